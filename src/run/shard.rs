//! Shards: `--shard K/N` runs the K-th of N deterministic slices of a run's walkers, and
//! `saddlescope merge` joins the N shard folders into the folder one run writes.
//!
//! Walker w's start, noise and hyperparameters are pure functions of (seed, w) and the whole
//! run's walker count, so a slice walked on its own ends exactly where the same walkers end in
//! one run; shard K of N takes walkers ⌊(K−1)·W/N⌋ .. ⌊K·W/N⌋. A shard folder holds the walk's
//! outputs only (starts, end states, its rows of walkers.csv, with global walker ids); the
//! stages that look at all walkers at once (the catalogue, the figures) run in `merge`, on the
//! end states of all shards in walker order, through the same code as one run.

use std::ops::Range;

use crate::spec::SpecError;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// The valid forms of `--shard`.
const VALID: &str = "K/N with 1 <= K <= N, e.g. --shard 2/8";

impl Shard {
    /// `K/N`, 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, SpecError> {
        let bad = |problem: String| SpecError::Spec {
            context: format!("--shard '{text}'"),
            problem: format!("{problem}; valid: {VALID}"),
        };
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("is not of the form K/N".into()))?;
        let parse = |s: &str, what: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("{what} '{s}' is not a whole number")))
        };
        let (index, count) = (parse(k, "K")?, parse(n, "N")?);
        if count == 0 || index == 0 || index > count {
            return Err(bad(format!("K = {index}, N = {count}")));
        }
        Ok(Shard { index, count })
    }

    /// The shard's slice of `total` work items (walkers).
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |k: usize| (k as u128 * total as u128 / self.count as u128) as usize;
        at(self.index - 1)..at(self.index)
    }

    /// Refuses more shards than `total` items (a shard would be empty); `what` names them.
    pub fn check(&self, total: usize, what: &str) -> Result<(), SpecError> {
        if self.count > total {
            return Err(SpecError::Spec {
                context: format!("--shard {}/{}", self.index, self.count),
                problem: format!(
                    "{} shards of {total} {what} would leave some empty; valid: N <= {total}",
                    self.count
                ),
            });
        }
        Ok(())
    }

    pub fn text(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_tile_the_walkers() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--shard") && e.contains("K/N"), "{e}");
        }
        for (w, n) in [(10, 3), (7, 7), (1000, 6), (5, 1)] {
            let mut next = 0;
            for k in 1..=n {
                let r = Shard { index: k, count: n }.range(w);
                assert_eq!(r.start, next);
                assert!(!r.is_empty());
                next = r.end;
            }
            assert_eq!(next, w);
        }
        assert!(Shard { index: 1, count: 9 }.check(8, "walkers").is_err());
    }
}
