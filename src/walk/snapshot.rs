//! A walk's state at a segment boundary, so that an interrupted walk continues exactly where it
//! stopped. The random numbers are a pure function of (seed, walker, step, lane) and every step
//! rule is a function of the walker's [`WalkerState`] (its vector slots, scalars and counters:
//! momentum, moments, pgd's perturbation step, anneal's proposal value, …) and the step t, so a
//! walker restored with its whole state at step t takes the same steps as one that never stopped.
//!
//! A snapshot keeps every slot of a walker that still runs, and of a stopped walker what its
//! end state needs (position, scalars, counters). The engines (`walk::batched`, `walk::cpu`)
//! call a [`Checkpoints`] at every segment boundary and once when the walk has ended; where it
//! writes and how often is the run folder's business (`run::resume`).

use super::state::*;
use super::EndStates;

/// Walkers' states after `t` steps of the walkers that still run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Steps taken by every walker still running (the segment boundary).
    pub t: u32,
    pub n: usize,
    pub states: Vec<WalkerState>,
}

/// A GPU walk's state at a segment boundary, as the device holds it (f32, the kernels' own
/// layout: every slot and scalar the rule's WGSL uses, not only the CPU twin's). A GPU walk
/// runs its walkers chunk after chunk: the chunks before `first` have ended (their end states
/// are `ends`), the chunk of `wc` walkers from `first` is `taken` steps in, and the chunks
/// after it have not started. When the whole walk has ended, `first` is the walker count and
/// the chunk is empty.
#[derive(Debug, Clone)]
pub struct DeviceSnapshot {
    /// Walkers before the chunk (all ended).
    pub first: usize,
    /// Walkers in the chunk.
    pub wc: usize,
    /// Steps taken by the chunk's walkers that still run.
    pub taken: u32,
    /// Vector slots and scalars per walker in the kernels' layout (checked on restore).
    pub slots: usize,
    pub scalars: usize,
    /// End states of walkers 0..first: x (first x N), f, |grad|, steps, status, escape.
    pub ends: EndStates,
    /// The chunk's state, scalars and counters buffers, as the kernels lay them out.
    pub state: Vec<f32>,
    pub sc: Vec<f32>,
    pub ct: Vec<u32>,
}

impl DeviceSnapshot {
    /// Walkers of the chunk still running.
    pub fn running(&self) -> usize {
        let at = CT_STATUS * self.wc;
        self.ct.get(at..at + self.wc).map_or(0, |s| {
            s.iter().filter(|&&c| c == Status::Running as u32).count()
        })
    }

    /// Little-endian bytes: the sizes (first, wc, slots, scalars as u64; taken as u32), the
    /// end states of the walkers before the chunk, then the chunk's three buffers.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [self.first, self.wc, self.slots, self.scalars] {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        out.extend_from_slice(&self.taken.to_le_bytes());
        let e = &self.ends;
        for v in e.x.iter().chain(&e.f).chain(&e.grad_norm) {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        for w in 0..e.len() {
            for c in [e.steps[w], e.status[w] as u32, e.escape[w]] {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        for v in self.state.iter().chain(&self.sc) {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        for c in &self.ct {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Reads what [`DeviceSnapshot::encode`] wrote of a walk of `walkers` walkers at dimension
    /// `n`; an error says what does not fit.
    pub fn decode(bytes: &[u8], walkers: usize, n: usize) -> Result<DeviceSnapshot, String> {
        let mut at = 0usize;
        let mut take = |len: usize| -> Result<&[u8], String> {
            let b = bytes.get(at..at.saturating_add(len)).ok_or_else(|| {
                format!("ends after {at} bytes, before the device state is complete")
            })?;
            at += len;
            Ok(b)
        };
        let mut size = || -> Result<usize, String> {
            let v = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
            usize::try_from(v).map_err(|_| format!("holds a size of {v}"))
        };
        let (first, wc, slots, scalars) = (size()?, size()?, size()?, size()?);
        if first.checked_add(wc).is_none_or(|end| end > walkers) || slots > 64 || scalars > 64 {
            return Err(format!(
                "holds a chunk of walkers {first}..+{wc} with {slots} slots and {scalars} \
                 scalars, not a chunk of a walk of {walkers} walkers"
            ));
        }
        let taken = u32::from_le_bytes(take(4)?.try_into().unwrap_or_default());
        let mut ends = EndStates::new(first, n);
        ends.precision = "f32";
        let f64s = |b: &[u8]| -> Vec<f64> {
            b.chunks_exact(8)
                .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().unwrap_or_default())))
                .collect()
        };
        let u32s = |b: &[u8]| -> Vec<u32> {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect()
        };
        ends.x = f64s(take(8 * first * n)?);
        ends.f = f64s(take(8 * first)?);
        ends.grad_norm = f64s(take(8 * first)?);
        for w in 0..first {
            let c = u32s(take(12)?);
            ends.steps[w] = c[0];
            ends.status[w] = Status::from_code(c[1]);
            ends.escape[w] = c[2];
        }
        let f32s = |b: &[u8]| -> Vec<f32> { u32s(b).into_iter().map(f32::from_bits).collect() };
        let state = f32s(take(4 * slots * n * wc)?);
        let sc = f32s(take(4 * scalars * wc)?);
        let ct = u32s(take(4 * COUNTERS * wc)?);
        if at != bytes.len() {
            return Err(format!(
                "holds {} bytes more than the device state of {walkers} walkers at N = {n}",
                bytes.len() - at
            ));
        }
        Ok(DeviceSnapshot {
            first,
            wc,
            taken,
            slots,
            scalars,
            ends,
            state,
            sc,
            ct,
        })
    }
}

/// Where a walk saves its state and finds the state to continue from.
pub trait Checkpoints: Sync {
    /// The state an interrupted run of this walk saved (None: start from the beginning).
    fn restore(&self) -> Option<Snapshot>;
    /// Called at every segment boundary with every walker's state (in walker order), `t`
    /// steps into the walk; `done` once every walker has stopped. Saves when it is due.
    fn boundary(&self, t: u32, states: &[&WalkerState], done: bool);
    /// Whether a checkpoint is due now: a GPU walk asks at each segment boundary before it
    /// reads its state back (a read costs a transfer of the whole chunk).
    fn due(&self) -> bool {
        false
    }
    /// The device state an interrupted GPU run of this walk saved (None: start from the
    /// beginning).
    fn restore_device(&self) -> Option<DeviceSnapshot> {
        None
    }
    /// Saves a GPU walk's state (when [`Checkpoints::due`] said so, and once with `done` when
    /// the walk has ended).
    fn save_device(&self, _snapshot: &DeviceSnapshot, _done: bool) {}
}

fn running(s: &WalkerState) -> bool {
    s.ct[CT_STATUS] == Status::Running as u32
}

/// How many walkers still run.
pub fn count_running(states: &[&WalkerState]) -> usize {
    states.iter().filter(|s| running(s)).count()
}

/// The body of a snapshot: per walker its counters (u32), scalars (f64) and then, when it still
/// runs, all its vector slots, else its position only; little-endian, f64 as their bits.
pub fn encode(states: &[&WalkerState]) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = encode_into(&mut out, states);
    out
}

/// [`encode`] into a writer (a checkpoint file), without a copy of the state in memory.
pub fn encode_into(out: &mut dyn std::io::Write, states: &[&WalkerState]) -> std::io::Result<()> {
    for s in states {
        for c in s.ct {
            out.write_all(&c.to_le_bytes())?;
        }
        for v in s.sc {
            out.write_all(&v.to_bits().to_le_bytes())?;
        }
        let slots: &[Vec<f64>] = if running(s) {
            &s.slots
        } else {
            &s.slots[SLOT_X..=SLOT_X]
        };
        for slot in slots {
            for v in slot {
                out.write_all(&v.to_bits().to_le_bytes())?;
            }
        }
    }
    Ok(())
}

/// Reads what [`encode`] wrote of `walkers` walkers at dimension `n`; an error says what does
/// not fit.
pub fn decode(bytes: &[u8], t: u32, walkers: usize, n: usize) -> Result<Snapshot, String> {
    let mut at = 0usize;
    let mut take = |len: usize| -> Result<&[u8], String> {
        let b = bytes
            .get(at..at + len)
            .ok_or_else(|| format!("ends after {at} bytes, before walker state is complete"))?;
        at += len;
        Ok(b)
    };
    let mut states = Vec::with_capacity(walkers);
    for _ in 0..walkers {
        let mut s = WalkerState::new(&vec![0.0; n]);
        for c in s.ct.iter_mut() {
            *c = u32::from_le_bytes(take(4)?.try_into().unwrap_or_default());
        }
        for v in s.sc.iter_mut() {
            *v = f64::from_bits(u64::from_le_bytes(take(8)?.try_into().unwrap_or_default()));
        }
        let slots = if running(&s) { SLOTS } else { 1 };
        for slot in s.slots.iter_mut().skip(SLOT_X).take(slots) {
            for v in slot.iter_mut() {
                *v = f64::from_bits(u64::from_le_bytes(take(8)?.try_into().unwrap_or_default()));
            }
        }
        states.push(s);
    }
    if at != bytes.len() {
        return Err(format!(
            "holds {} bytes more than {walkers} walkers at N = {n}",
            bytes.len() - at
        ));
    }
    Ok(Snapshot { t, n, states })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_bit_for_bit() {
        let mut a = WalkerState::new(&[1.0, -0.0]);
        for (k, slot) in a.slots.iter_mut().enumerate() {
            slot[1] = f64::from_bits(0x7ff8_0000_0000_0001 + k as u64);
        }
        a.sc[SC_RULE1] = -3.25e-300;
        a.ct[CT_RULE0] = 17;
        let mut b = a.clone();
        b.ct[CT_STATUS] = Status::Converged as u32;
        let back = decode(&encode(&[&a, &b]), 5, 2, 2).unwrap();
        let bits = |s: &WalkerState| -> Vec<u64> {
            let mut v: Vec<u64> = s.slots.iter().flatten().map(|x| x.to_bits()).collect();
            v.extend(s.sc.iter().map(|x| x.to_bits()));
            v.extend(s.ct.iter().map(|&c| u64::from(c)));
            v
        };
        assert_eq!(bits(&back.states[0]), bits(&a));
        let x_bits = |s: &WalkerState| s.x().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(x_bits(&back.states[1]), x_bits(&b));
        assert_eq!(back.states[1].ct, b.ct);
        assert!(decode(&encode(&[&a]), 0, 2, 2).is_err());
        assert!(decode(&encode(&[&a, &b]), 0, 1, 2).is_err());
    }

    #[test]
    fn a_device_snapshot_round_trips_and_a_damaged_one_is_refused() {
        let (n, wc, slots, scalars) = (3, 2, 8, 9);
        let mut ends = EndStates::new(1, n);
        ends.set(
            0,
            &[1.0, f64::NAN, -2.5],
            0.25,
            1e-9,
            7,
            Status::Converged,
            3,
        );
        let mut ct = vec![0u32; COUNTERS * wc];
        ct[CT_STATUS * wc + 1] = Status::Diverged as u32;
        let s = DeviceSnapshot {
            first: 1,
            wc,
            taken: 11,
            slots,
            scalars,
            ends,
            state: (0..slots * n * wc).map(|k| k as f32 * -0.5).collect(),
            sc: vec![f32::from_bits(0x7fc0_0001); scalars * wc],
            ct,
        };
        assert_eq!(s.running(), 1);
        let bytes = s.encode();
        let back = DeviceSnapshot::decode(&bytes, 3, n).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!((back.first, back.wc, back.taken), (1, wc, 11));
        assert_eq!(back.ends.status[0], Status::Converged);
        // Cut short, one byte long, or a chunk beyond the walk's walkers.
        assert!(DeviceSnapshot::decode(&bytes[..bytes.len() - 1], 3, n).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(DeviceSnapshot::decode(&long, 3, n).is_err());
        assert!(DeviceSnapshot::decode(&bytes, 2, n).is_err());
    }
}
