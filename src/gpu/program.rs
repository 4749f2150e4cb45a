//! The walk as kernels: which entry points a (objective, rule) pair needs, generated as WGSL
//! glue around the rule's stage functions and the objective's evaluations, and the order in
//! which one step (and one evaluation for the twin check) dispatches them.
//!
//! Two engines share the rule's WGSL:
//! - **fused** (objectives with per-walker `obj_*` functions): one kernel, `walk_segment`
//!   (shaders/walk.wgsl), runs many steps per invocation; the generated `rule_step` calls the
//!   rule's stages with the evaluations between them inline.
//! - **multi-pass** (objectives with [`Passes`]: one walker's evaluation is a matrix-shaped
//!   sum too long for one invocation): every evaluation is a sequence of pass kernels over
//!   (running walkers x rows), and the rule's stages are per-walker kernels between them.
//!   A step dispatches: the gradient passes at x, the observe-and-first-stages kernel, then for
//!   each further evaluation its passes and the next stage kernel.

use super::tile;
use crate::objective::{Pass, Passes};
use crate::rules::{Eval, Op};
use crate::walk::state::{SLOT_AUX, SLOT_GRAD, SLOT_START, SLOT_X};

/// Rows of a pass grid beyond this go to the grid's z dimension (dispatch dimensions are
/// limited to 65535 workgroups).
pub const ROW_SPLIT: usize = 32768;

/// One compute entry point and its grid: walkers (x) times `rows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub entry: String,
    pub rows: usize,
    /// A tiled matrix-product kernel (src/gpu/tile.rs): a workgroup covers tile::TW walkers
    /// and tile::TR rows; otherwise 64 walkers and one row.
    pub tiled: bool,
    /// For a tiled kernel: the per-row kernel of the same pass, dispatched instead when fewer
    /// walkers run than fill one tile.
    pub per_row: Option<usize>,
    /// For a tiled kernel whose product allows it (`Tile::split_sum`): the split-sum kernel
    /// of the same pass, dispatched instead of the per-row one for fewer walkers than fill a
    /// tile (unless src/gpu/walker.rs's `SPLIT_ENV` turns it off).
    pub split_sum: Option<usize>,
    /// A split-sum kernel (src/gpu/tile.rs, `lanes_kernel`): a workgroup covers one walker and
    /// tile::LANE_ROWS rows.
    pub lanes: bool,
}

/// The generated kernels and the dispatch order of one step and of one evaluation.
#[derive(Debug, Clone)]
pub struct Program {
    /// WGSL appended after the rule's source: glue functions and entry points.
    pub source: String,
    pub kernels: Vec<Kernel>,
    /// Indices into `kernels`, in dispatch order, for one step (the fused engine: one
    /// dispatch runs `segment_steps` steps).
    pub step: Vec<usize>,
    /// For [`crate::gpu::GpuWalk::eval`]: f and the gradient at SLOT_X (f into SC_F, again by
    /// the value evaluation into SC_GNORM) and H v with v in SLOT_START into SLOT_AUX.
    pub eval: Vec<usize>,
    pub fused: bool,
}

/// The ops of the fused engine's `rule_step`, indented by `depth`: stages, inline evaluations
/// and loops for repeats (the loop variables are numbered by depth).
fn fused_ops(ops: &[Op], n: usize, depth: usize, s: &mut String) {
    let pad = "    ".repeat(depth + 1);
    for op in ops {
        match op {
            Op::Stage(f) => s.push_str(&format!("{pad}{f}(w, t, lr_scale);\n")),
            Op::Eval(Eval::Grad { x }) => s.push_str(&format!(
                "{pad}scalars[sc(SC_EVAL, w)] = obj_grad({x}u, w);\n"
            )),
            Op::Eval(Eval::Value { x }) => s.push_str(&format!(
                "{pad}scalars[sc(SC_EVAL, w)] = obj_value({x}u, w);\n"
            )),
            Op::Eval(Eval::Hvp { x, v, out }) => {
                s.push_str(&format!("{pad}obj_hvp({x}u, {v}u, {out}u, w);\n"))
            }
            Op::Repeat(count, inner) => {
                s.push_str(&format!(
                    "{pad}for (var rep{depth} = 0u; rep{depth} < {}u; rep{depth} = rep{depth} + 1u) {{\n",
                    count(n)
                ));
                fused_ops(inner, n, depth + 1, s);
                s.push_str(&format!("{pad}}}\n"));
            }
        }
    }
}

/// The WGSL of the fused engine's `rule_step` for dimension `n`.
fn fused_rule_step(ops: &[Op], n: usize) -> String {
    let mut s = String::from(
        "// Generated from the rule's program (src/gpu/program.rs).\n\
         fn rule_step(w: u32, t: u32, lr_scale: f32) {\n",
    );
    fused_ops(ops, n, 0, &mut s);
    s.push_str("}\n");
    s
}

/// The fused engine for dimension `n`: `walk_segment` and `eval_grad` from shaders/walk.wgsl.
pub fn fused(ops: &[Op], n: usize) -> Program {
    Program {
        source: fused_rule_step(ops, n),
        kernels: vec![
            Kernel {
                entry: "walk_segment".into(),
                rows: 1,
                tiled: false,
                per_row: None,
                split_sum: None,
                lanes: false,
            },
            Kernel {
                entry: "eval_grad".into(),
                rows: 1,
                tiled: false,
                per_row: None,
                split_sum: None,
                lanes: false,
            },
        ],
        step: vec![0],
        eval: vec![1],
        fused: true,
    }
}

/// The slots an evaluation reads and writes: (x, v, out).
fn slots(e: &Eval) -> (usize, usize, usize) {
    match *e {
        Eval::Grad { x } => (x, x, SLOT_GRAD),
        Eval::Value { x } => (x, x, x),
        Eval::Hvp { x, v, out } => (x, v, out),
    }
}

/// The passes of evaluation `e`: the full batch's, or with `mini` the minibatches'.
fn passes_of<'a>(p: &'a Passes, e: &Eval, mini: bool) -> &'a [Pass] {
    match (p.minibatch.as_ref().filter(|_| mini), e) {
        (None, Eval::Grad { .. }) => &p.grad,
        (None, Eval::Value { .. }) => &p.value,
        (None, Eval::Hvp { .. }) => &p.hvp,
        (Some(m), Eval::Grad { .. }) => &m.grad,
        (Some(m), Eval::Value { .. }) => &m.value,
        (Some(m), Eval::Hvp { .. }) => &m.hvp,
    }
}

/// Builds the multi-pass program; errors name a rule program the engine cannot run.
struct Builder {
    source: String,
    kernels: Vec<Kernel>,
    /// Run the passes that are matrix products as tiled kernels (one landscape per dispatch).
    tiled: bool,
    /// The split-sum kernels reduce by subgroup shuffles (the device has them).
    subgroups: bool,
}

impl Builder {
    fn push(&mut self, entry: String, rows: usize, body: &str) -> usize {
        if let Some(k) = self.kernels.iter().position(|k| k.entry == entry) {
            return k;
        }
        self.source.push_str(&format!(
            "\n@compute @workgroup_size(64)\nfn {entry}(@builtin(global_invocation_id) gid: vec3<u32>) {{\n{body}    loop_guard();\n}}\n"
        ));
        self.kernels.push(Kernel {
            entry,
            rows,
            tiled: false,
            per_row: None,
            split_sum: None,
            lanes: false,
        });
        self.kernels.len() - 1
    }

    /// The pass kernels of one evaluation, in order (on minibatches with `mini`).
    fn eval(&mut self, passes: &Passes, e: &Eval, mini: bool) -> Vec<usize> {
        let (x, v, out) = slots(e);
        passes_of(passes, e, mini)
            .iter()
            .map(|p| self.pass(p, x, v, out))
            .collect()
    }

    /// The kernel of pass `p` on slots (x, v, out), over (running walkers x rows).
    fn pass(&mut self, p: &Pass, x: usize, v: usize, out: usize) -> usize {
        if let Some(t) = tile::worth_tiling(p).filter(|_| self.tiled) {
            let entry = format!("tile_{}_{x}_{v}_{out}", p.func);
            if let Some(k) = self.kernels.iter().position(|k| k.entry == entry) {
                return k;
            }
            let per_row = self.per_row(p, x, v, out);
            let split_sum = t.split_sum.then(|| self.lanes(p, t, x, v, out));
            if !self.kernels.iter().any(|k| k.tiled) {
                self.source.push_str(&tile::workgroup_arrays());
            }
            self.source
                .push_str(&tile::kernel(&entry, p, t, x, v, out, ROW_SPLIT));
            self.kernels.push(Kernel {
                entry,
                rows: p.rows,
                tiled: true,
                per_row: Some(per_row),
                split_sum,
                lanes: false,
            });
            return self.kernels.len() - 1;
        }
        self.per_row(p, x, v, out)
    }

    /// The split-sum kernel of pass `p`, a matrix product `t` (dispatched for fewer walkers
    /// than fill a tile).
    fn lanes(
        &mut self,
        p: &Pass,
        t: crate::objective::Tile,
        x: usize,
        v: usize,
        out: usize,
    ) -> usize {
        let entry = format!("lanes_{}_{x}_{v}_{out}", p.func);
        if let Some(k) = self.kernels.iter().position(|k| k.entry == entry) {
            return k;
        }
        if !self.subgroups && !self.kernels.iter().any(|k| k.lanes) {
            self.source.push_str(&tile::lane_arrays());
        }
        self.source.push_str(&tile::lanes_kernel(
            &entry,
            p,
            t,
            (x, v, out),
            ROW_SPLIT,
            self.subgroups,
        ));
        self.kernels.push(Kernel {
            entry,
            rows: p.rows,
            tiled: false,
            per_row: None,
            split_sum: None,
            lanes: true,
        });
        self.kernels.len() - 1
    }

    /// The per-row kernel of pass `p`: one invocation per (running walker, row).
    fn per_row(&mut self, p: &Pass, x: usize, v: usize, out: usize) -> usize {
        let entry = format!("pass_{}_{x}_{v}_{out}", p.func);
        let body = format!(
            "    let r = gid.y + gid.z * {ROW_SPLIT}u;\n\
             \x20   if gid.x < walk.active_count && r < {rows}u {{\n\
             \x20       let w = walkers[gid.x];\n\
             \x20       if counters[sc(CT_STATUS, w)] == RUNNING {{\n\
             \x20           {f}(w, r, {x}u, {v}u, {out}u);\n\
             \x20       }}\n\
             \x20   }}\n",
            rows = p.rows,
            f = p.func
        );
        self.push(entry, p.rows, &body)
    }

    /// A per-walker kernel running `inner` for every running walker.
    fn per_walker(&mut self, entry: String, inner: &str) -> usize {
        let body = format!(
            "    if gid.x < walk.active_count {{\n\
             \x20       let w = walkers[gid.x];\n\
             \x20       if counters[sc(CT_STATUS, w)] == RUNNING {{\n{inner}\
             \x20       }}\n\
             \x20   }}\n"
        );
        self.push(entry, 1, &body)
    }
}

/// The stage calls of one stage kernel, each line indented by `pad`; ends the step when `last`.
fn stage_calls(stages: &[&str], last: bool, pad: &str) -> String {
    let mut lines = vec![
        "let t = counters[sc(CT_STEPS, w)];".to_string(),
        "let lr_scale = schedule_at(w, t);".to_string(),
    ];
    lines.extend(stages.iter().map(|f| format!("{f}(w, t, lr_scale);")));
    if last {
        lines.push("end_step(w);".into());
        lines.push("counters[sc(CT_STEPS, w)] = t + 1u;".into());
    }
    lines.iter().map(|l| format!("{pad}{l}\n")).collect()
}

/// The multi-pass engine for an objective with `passes`, a rule program `ops` and dimension
/// `n` (repeats are written out: one dispatch sequence per iteration, the stage kernels shared);
/// with `tiled`, passes that are large matrix products run as tiled kernels (src/gpu/tile.rs),
/// which need one landscape per dispatch, and as split-sum kernels for dispatches with fewer
/// walkers than fill a tile (reducing by subgroup shuffles with `subgroups`).
/// With `minibatch` (some walker has `batch=B > 0`), a step is: the full-batch gradient at x
/// and observe (the stop tests see the full-batch loss), the minibatch rows, the minibatch
/// gradient at x whose f and |grad| replace the observed ones, then the rule's stages with
/// every further evaluation on the minibatch (rules::BATCH).
pub fn multi_pass(
    passes: &Passes,
    ops: &[Op],
    n: usize,
    minibatch: bool,
    tiled: bool,
    subgroups: bool,
) -> Result<Program, String> {
    if minibatch && passes.minibatch.is_none() {
        return Err("minibatches (batch=B) need an objective with data (mlp)".into());
    }
    let ops = crate::rules::unrolled(ops, n);
    // The stage functions between evaluations: segments[k] runs after evaluation k - 1.
    let mut segments: Vec<Vec<&str>> = vec![vec![]];
    let mut evals: Vec<Eval> = vec![];
    for op in &ops {
        match op {
            Op::Repeat(..) => unreachable!("unrolled above"),
            Op::Stage(f) => segments.last_mut().expect("one segment").push(f),
            Op::Eval(e) => {
                let (x, v, out) = slots(e);
                if matches!(e, Eval::Hvp { .. }) && (out == x || out == v) {
                    return Err(format!(
                        "a Hessian-vector product into slot {out} overwrites its input; \
                         the multi-pass engine needs out distinct from x and v"
                    ));
                }
                evals.push(*e);
                segments.push(vec![]);
            }
        }
    }
    if segments.last().is_some_and(|s| s.is_empty()) && !evals.is_empty() {
        return Err("the rule's program ends with an evaluation no stage reads".into());
    }
    let mut b = Builder {
        source: String::from("// Generated multi-pass kernels (src/gpu/program.rs).\n"),
        kernels: vec![],
        tiled,
        subgroups,
    };
    let mut step = b.eval(passes, &Eval::Grad { x: SLOT_X }, false);
    let last = segments.len() - 1;
    if let Some(m) = passes.minibatch.as_ref().filter(|_| minibatch) {
        // Observe on the full batch, then the step on the minibatch.
        step.push(b.per_walker(
            "observe".into(),
            "            let t0 = counters[sc(CT_STEPS, w)];\n\
             \x20           fault_grad(w);\n\
             \x20           let status = observe_at(w, t0, scalars[sc(SC_EVAL, w)]);\n\
             \x20           if status != RUNNING {\n\
             \x20               counters[sc(CT_STATUS, w)] = status;\n\
             \x20           }\n",
        ));
        step.push(b.pass(&m.index, SLOT_X, SLOT_X, SLOT_GRAD));
        step.extend(b.eval(passes, &Eval::Grad { x: SLOT_X }, true));
        let body = format!(
            "            fault_grad(w);\n\
             \x20           minibatch_observe(w);\n{}",
            stage_calls(&segments[0], last == 0, &" ".repeat(12))
        );
        step.push(b.per_walker("stage_0_minibatch".into(), &body));
    } else {
        let observe = format!(
            "            let t0 = counters[sc(CT_STEPS, w)];\n\
             \x20           fault_grad(w);\n\
             \x20           let status = observe_at(w, t0, scalars[sc(SC_EVAL, w)]);\n\
             \x20           if status != RUNNING {{\n\
             \x20               counters[sc(CT_STATUS, w)] = status;\n\
             \x20           }} else {{\n{}\
             \x20           }}\n",
            stage_calls(&segments[0], last == 0, &" ".repeat(16))
        );
        step.push(b.per_walker("stage_0".into(), &observe));
    }
    for (k, e) in evals.iter().enumerate() {
        step.extend(b.eval(passes, e, minibatch));
        let seg = &segments[k + 1];
        let body = stage_calls(seg, k + 1 == last, &" ".repeat(12));
        // Named by what it runs, so that the iterations of a repeat share one kernel.
        let entry = format!(
            "stage_{}{}",
            seg.join("_"),
            if k + 1 == last { "_end" } else { "" }
        );
        step.push(b.per_walker(entry, &body));
    }
    let mut eval = b.eval(passes, &Eval::Grad { x: SLOT_X }, false);
    eval.push(b.per_walker(
        "keep_grad".into(),
        "            scalars[sc(SC_F, w)] = scalars[sc(SC_EVAL, w)];\n\
         \x20           fault_grad(w);\n",
    ));
    eval.extend(b.eval(passes, &Eval::Value { x: SLOT_X }, false));
    eval.push(b.per_walker(
        "keep_value".into(),
        "            scalars[sc(SC_GNORM, w)] = scalars[sc(SC_EVAL, w)];\n",
    ));
    eval.extend(b.eval(
        passes,
        &Eval::Hvp {
            x: SLOT_X,
            v: SLOT_START,
            out: SLOT_AUX,
        },
        false,
    ));
    Ok(Program {
        source: b.source,
        kernels: b.kernels,
        step,
        eval,
        fused: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes() -> Passes {
        Passes {
            grad: vec![Pass::rows("g", 8)],
            value: vec![Pass::rows("v", 1)],
            hvp: vec![Pass::rows("h", 8)],
            scratch: 0,
            minibatch: None,
        }
    }

    /// The entry points of a step's kernels, in dispatch order.
    fn step_entries(p: &Program) -> Vec<&str> {
        p.step
            .iter()
            .map(|&k| p.kernels[k].entry.as_str())
            .collect()
    }

    #[test]
    fn a_step_dispatches_gradient_observe_and_each_evaluation_before_its_stage() {
        let ops = [
            Op::Stage("propose"),
            Op::Eval(Eval::Value { x: 1 }),
            Op::Stage("accept"),
        ];
        let p = multi_pass(&passes(), &ops, 8, false, false, false).unwrap();
        let names = step_entries(&p);
        assert_eq!(
            names,
            [
                "pass_g_0_0_2",
                "stage_0",
                "pass_v_1_1_1",
                "stage_accept_end"
            ]
        );
        // The step ends (end_step, t + 1) in the last stage kernel only.
        let stage0 = &p.source[p.source.find("fn stage_0").unwrap()..];
        let stage0 = &stage0[..stage0.find("fn stage_accept_end").unwrap()];
        assert!(stage0.contains("propose(w, t, lr_scale)") && !stage0.contains("end_step"));
        assert!(p.source[p.source.find("fn stage_accept_end").unwrap()..].contains("end_step"));
        assert_eq!(p.kernels[p.step[0]].rows, 8);
    }

    #[test]
    fn a_minibatch_step_observes_the_full_batch_then_steps_on_the_minibatch() {
        let mut ps = passes();
        ps.minibatch = Some(crate::objective::Minibatch {
            index: Pass::rows("i", 8),
            grad: vec![Pass::rows("mg", 8)],
            value: vec![Pass::rows("mv", 1)],
            hvp: vec![Pass::rows("mh", 8)],
        });
        let ops = [
            Op::Stage("propose"),
            Op::Eval(Eval::Value { x: 1 }),
            Op::Stage("accept"),
        ];
        let p = multi_pass(&ps, &ops, 8, true, false, false).unwrap();
        assert_eq!(
            step_entries(&p),
            [
                "pass_g_0_0_2",
                "observe",
                "pass_i_0_0_2",
                "pass_mg_0_0_2",
                "stage_0_minibatch",
                "pass_mv_1_1_1",
                "stage_accept_end"
            ]
        );
        let s0 = &p.source[p.source.find("fn stage_0_minibatch").unwrap()..];
        assert!(s0.find("minibatch_observe(w)").unwrap() < s0.find("propose(w").unwrap());
        // The twin check's evaluation stays on the full batch.
        let eval: Vec<&str> = p
            .eval
            .iter()
            .map(|&k| p.kernels[k].entry.as_str())
            .collect();
        assert!(eval.iter().all(|e| !e.contains("pass_m")), "{eval:?}");
        // Without minibatches the program is the full batch's; an objective without
        // minibatch passes is refused.
        let plain = multi_pass(&ps, &ops, 8, false, false, false).unwrap();
        assert!(step_entries(&plain).iter().all(|e| !e.contains("pass_m")));
        assert!(multi_pass(&passes(), &ops, 8, true, false, false).is_err());
    }

    #[test]
    fn programs_the_engine_cannot_run_are_refused() {
        let alias = [Op::Eval(Eval::Hvp { x: 0, v: 2, out: 2 }), Op::Stage("s")];
        assert!(multi_pass(&passes(), &alias, 8, false, false, false)
            .unwrap_err()
            .contains("overwrites"));
        let dangling = [Op::Stage("s"), Op::Eval(Eval::Value { x: 1 })];
        assert!(multi_pass(&passes(), &dangling, 8, false, false, false).is_err());
    }

    #[test]
    fn the_fused_rule_step_calls_evaluations_inline() {
        let s = fused_rule_step(
            &[
                Op::Eval(Eval::Hvp { x: 0, v: 2, out: 3 }),
                Op::Stage("update"),
            ],
            2,
        );
        assert!(s.contains("obj_hvp(0u, 2u, 3u, w);\n    update(w, t, lr_scale);"));
    }

    const INNER: &[Op] = &[
        Op::Eval(Eval::Hvp { x: 0, v: 7, out: 3 }),
        Op::Stage("iterate"),
    ];

    #[test]
    fn repeats_are_loops_when_fused_and_shared_kernels_when_multi_pass() {
        let ops = [
            Op::Stage("start"),
            Op::Repeat(|n| n.min(3), INNER),
            Op::Stage("finish"),
        ];
        let f = fused_rule_step(&ops, 8);
        assert!(f.contains("for (var rep0 = 0u; rep0 < 3u;") && f.matches("iterate(").count() == 1);
        let p = multi_pass(&passes(), &ops, 2, false, false, false).unwrap();
        let names = step_entries(&p);
        assert_eq!(
            names,
            [
                "pass_g_0_0_2",
                "stage_0",
                "pass_h_0_7_3",
                "stage_iterate",
                "pass_h_0_7_3",
                "stage_iterate_finish_end"
            ]
        );
        // The second iteration's Hv and the shared stage reuse kernels.
        assert_eq!(p.step[2], p.step[4]);
    }
}
