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

/// Walkers' states after `t` steps of the walkers that still run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Steps taken by every walker still running (the segment boundary).
    pub t: u32,
    pub n: usize,
    pub states: Vec<WalkerState>,
}

/// Where a walk saves its state and finds the state to continue from.
pub trait Checkpoints: Sync {
    /// The state an interrupted run of this walk saved (None: start from the beginning).
    fn restore(&self) -> Option<Snapshot>;
    /// Called at every segment boundary with every walker's state (in walker order), `t`
    /// steps into the walk; `done` once every walker has stopped. Saves when it is due.
    fn boundary(&self, t: u32, states: &[&WalkerState], done: bool);
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
}
