#!/usr/bin/env bash
# The Slurm integration test: `saddlescope slurm --submit` on a real single-node Slurm on this
# machine. It installs Debian's slurm-wlm and munge when missing, starts munged, slurmctld and
# slurmd from a minimal slurm.conf in a temporary folder (its own ports, key, state, spool and
# logs), submits a sweep as a 4-task job array plus its merge job, waits for them, and holds
# the merged run to the same sweep run once without Slurm: every file but manifest.json byte
# for byte. At the end (trap on EXIT) it cancels its jobs and stops exactly the daemons it
# started, by the pids in their pid files.
#
# Where this machine cannot run Slurm (not Linux, not root, no apt-get, the install fails, a
# daemon does not come up within its timeout, a trivial job does not run) it prints
# "skipped: <why>" and exits 0. Once Slurm runs a job, a failed task, a failed merge or a
# merged run that differs from the single run exits 1.
#
#   bash scripts/slurm_test.sh                              # alone; .ci/run runs it after cargo test
#   SADDLESCOPE_SLURM_TEST=skip bash scripts/slurm_test.sh     # skip it
#   SADDLESCOPE_SLURM_TEST=require bash scripts/slurm_test.sh  # a skip is a failure
#   SADDLESCOPE_SLURM_KEEP=1 ...                             # keep the temporary folder
#   SADDLESCOPE_BIN=/path/to/saddlescope ...                 # test that binary (default: cargo build)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

say() { echo "slurm_test: $*"; }
skip() {
    if [ "${SADDLESCOPE_SLURM_TEST:-}" = require ]; then
        say "FAILED: Slurm cannot run here and SADDLESCOPE_SLURM_TEST=require: $*"
        exit 1
    fi
    say "skipped: $*"
    exit 0
}
fail() {
    say "FAILED: $*"
    exit 1
}

[ "${SADDLESCOPE_SLURM_TEST:-}" = skip ] && skip "SADDLESCOPE_SLURM_TEST=skip"
[ "$(uname -s)" = Linux ] || skip "Slurm's daemons run on Linux; this is $(uname -s)"
[ "$(id -u)" = 0 ] || skip "starting munged as the munge user and slurmd needs root; this runs as $(id -un)"
command -v timeout >/dev/null || skip "no timeout command (coreutils) to bound the waits"

# --- Install ------------------------------------------------------------------------------
# What the EXIT trap undoes: a policy-rc.d this script made, its jobs, the daemons it started
# (by the pids in their pid files, -9 after 10 s) and its temporary folder.
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=""
JOBS=""
T=""
cleanup() {
    local rc=$?
    set +e
    if [ -n "$OUR_POLICY" ]; then rm -f "$POLICY"; fi
    if [ -n "$JOBS" ]; then timeout 20 scancel $JOBS >/dev/null 2>&1; fi
    [ -n "$T" ] || exit $rc
    for f in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
        [ -s "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; fi
    done
    if [ -n "${SADDLESCOPE_SLURM_KEEP:-}" ]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap cleanup EXIT

need_install() {
    for c in munged munge unmunge slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
        command -v "$c" >/dev/null || return 0
    done
    return 1
}
if need_install; then
    command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed and there is no apt-get to install them"
    # The packages would start their services; the test starts its own daemons, so the
    # install starts none (a policy-rc.d that refuses, removed again at once).
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$POLICY"
        chmod 755 "$POLICY"
        OUR_POLICY=1
    fi
    say "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    installed=1
    timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    timeout 900 apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 || installed=""
    if [ -n "$OUR_POLICY" ]; then rm -f "$POLICY" && OUR_POLICY=""; fi
    [ -n "$installed" ] || skip "apt-get install slurm-wlm munge failed (no network or no package)"
    need_install && skip "after installing slurm-wlm and munge, a Slurm or munge command is still missing"
fi
id munge >/dev/null 2>&1 || skip "there is no munge user to run munged as"

# --- The binary ---------------------------------------------------------------------------
BIN=${SADDLESCOPE_BIN:-}
if [ -z "$BIN" ]; then
    say "building saddlescope (cargo build)"
    cargo build --quiet
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/saddlescope"
fi
[ -x "$BIN" ] || fail "no saddlescope binary at $BIN"

# --- The cluster ---------------------------------------------------------------------------
T=$(mktemp -d /tmp/saddlescope-slurm.XXXXXX)
chmod 755 "$T" # munged, running as munge, must reach its folder inside

# Waits until "$@" succeeds, at most $1 seconds; returns non-zero on timeout.
wait_for() {
    local seconds=$1
    shift
    local end=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.5
    done
}

mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log" "$T/runs"
head -c 1024 /dev/urandom > "$T/munge/munge.key"
chown -R munge:munge "$T/munge"
chmod 755 "$T/munge"
chmod 600 "$T/munge/munge.key"
SOCKET="$T/munge/munge.socket"
timeout 20 runuser -u munge -- munged --socket="$SOCKET" --key-file="$T/munge/munge.key" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
    --seed-file="$T/munge/munged.seed" ||
    skip "munged did not start: $(tail -n 3 "$T/munge/munged.log" 2>/dev/null | tr '\n' ' ')"
munge_works() { munge -n -S "$SOCKET" | unmunge -S "$SOCKET"; }
wait_for 15 munge_works || skip "munged does not answer on $SOCKET within 15 s"

# Two free ports next to each other (a port answers on 127.0.0.1 when something holds it).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for _ in $(seq 1 30); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p" && port_free $((p + 1)); then PORT=$p; break; fi
done
[ -n "$PORT" ] || skip "found no two free ports for slurmctld and slurmd"

NODE=$(hostname -s 2>/dev/null || hostname)
CPUS=$(nproc)
export SLURM_CONF="$T/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=saddlescope-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
logs() {
    for f in "$T/log/slurmctld.log" "$T/log/slurmd.log"; do
        [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }
    done
    return 0
}
timeout 30 slurmctld -f "$SLURM_CONF" || { logs; skip "slurmctld did not start"; }
timeout 30 slurmd -f "$SLURM_CONF" || { logs; skip "slurmd did not start"; }
wait_for 30 timeout 10 scontrol ping || { logs; skip "slurmctld does not answer within 30 s"; }
node_idle() { [ "$(timeout 10 sinfo -h -n "$NODE" -o %T)" = idle ]; }
wait_for 60 node_idle || { logs; skip "node $NODE is not idle within 60 s ($(sinfo -h -o %T 2>&1))"; }
say "Slurm is up: $(sbatch --version 2>&1 | head -n 1), node $NODE with $CPUS CPUs, ports $PORT-$((PORT + 1)), in $T"

# A trivial job first: where it cannot run, Slurm cannot run jobs here at all.
probe=$(timeout 30 sbatch --parsable --output="$T/log/probe-%j.out" --wrap true) ||
    skip "sbatch refused a trivial job"
JOBS=$probe
gone() { [ -z "$(timeout 10 squeue -h -j "$1" 2>/dev/null)" ]; }
state() { timeout 10 scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' '; }
wait_for 60 gone "$probe" || { logs; skip "a trivial job did not end within 60 s: $(state "$probe")"; }
[ "$(state "$probe")" = "JobState=COMPLETED " ] || { logs; skip "a trivial job did not complete: $(state "$probe")"; }

# --- The job -------------------------------------------------------------------------------
# 5 instances of two dimensions in 4 shards: shards of 1, 1, 1 and 2 instances, each
# catalogued on its own, joined by the merge in instance order. The merged folder's name
# needs quoting in the scripts.
SWEEP=(sweep --objective pspin:p=3 --dims 2,3 --instances 5 --walkers 16 --steps 40
    --optimizer 'newton-mr:rtol=1e-6..1e-4:log' --backend cpu)
MERGED="$T/runs/merged sweep"
said=$(cd "$T" && timeout 120 "$BIN" slurm --shards 4 --time 00:10:00 --cpus-per-task 1 \
    --script-dir "$T/job" --submit "${SWEEP[@]}" --out "$MERGED") ||
    fail "saddlescope slurm --submit failed: $said"
echo "$said"
ids=$(echo "$said" | sed -n 's/^submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\1 \2/p')
read -r ARRAY MERGE <<<"$ids"
[ -n "${ARRAY:-}" ] && [ -n "${MERGE:-}" ] || fail "no job ids in the output of saddlescope slurm"
JOBS="$probe $ARRAY $MERGE"

"$BIN" "${SWEEP[@]}" --out "$T/runs/single" >"$T/log/single.out" 2>&1 ||
    { cat "$T/log/single.out"; fail "the single run failed"; }

show_logs() {
    for f in "$T"/job/logs/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    return 0
}
# The array first: when a task fails, the merge would wait for it for ever.
if ! wait_for 600 gone "$ARRAY"; then
    timeout 10 squeue; show_logs; logs
    fail "the array job $ARRAY did not end within 600 s"
fi
[ "$(state "$ARRAY")" = "JobState=COMPLETED " ] || { show_logs; fail "array job $ARRAY: $(state "$ARRAY")"; }
if ! wait_for 300 gone "$MERGE"; then
    timeout 10 squeue; show_logs; logs
    fail "the merge job $MERGE did not end within 300 s"
fi
[ "$(state "$MERGE")" = "JobState=COMPLETED " ] || { show_logs; fail "merge job $MERGE: $(state "$MERGE")"; }
say "array job $ARRAY (4 tasks) and merge job $MERGE completed"

# --- The comparison ------------------------------------------------------------------------
[ -f "$MERGED/manifest.json" ] || fail "the merge wrote no manifest.json"
grep -q '"merged_from"' "$MERGED/manifest.json" || fail "the merged manifest lists no shards"
for k in 1 2 3 4; do
    [ -f "$MERGED.shards/$k-of-4/manifest.json" ] || fail "shard $k wrote no manifest.json"
done
single_files=$(cd "$T/runs/single" && ls -A)
merged_files=$(cd "$MERGED" && ls -A)
[ "$single_files" = "$merged_files" ] ||
    fail "the merged run's files differ from the single run's: $(diff <(echo "$single_files") <(echo "$merged_files") | tr '\n' ' ')"
compared=()
for f in $single_files; do
    [ "$f" = manifest.json ] && continue
    cmp -s "$T/runs/single/$f" "$MERGED/$f" || fail "$f of the merged array differs from the single run's"
    compared+=("$f")
done
[ "${#compared[@]}" -ge 3 ] || fail "only ${#compared[@]} files to compare"
say "passed: the 4-shard array merged by Slurm is the single run, ${#compared[@]} files byte for byte: ${compared[*]}"
