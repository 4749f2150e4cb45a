//! Learning-rate schedules shared by every step rule. WGSL twin: shaders/schedule.wgsl.
//! lr(t) = lr · factor(t). The walk computes
//! the factor once per step (WGSL: `lr_factor` in shaders/schedule.wgsl, called by walk.wgsl;
//! here: [`factor`], called by src/walk/cpu.rs into `Ctx::lr_scale`) and each rule multiplies
//! its step size by it. The schedule's parameters are ordinary per-walker hyperparameter rows,
//! so the numeric ones may be ranges across walkers.
//!
//! - `constant`: 1.
//! - `cosine`: lr_min + (1 − lr_min)(1 + cos(π·min(t/T, 1)))/2 — from 1 at t = 0 down to
//!   `lr_min` at t = T = `period`, then held there (cosine annealing without restarts).
//! - `step`: gamma^⌊t/T⌋ — multiplied by `gamma` every `period` steps.
//! - `restarts`: SGDR (Loshchilov & Hutter 2017, "SGDR: stochastic gradient descent with warm
//!   restarts"): cosine cycles from 1 to `lr_min`; cycle i lasts T·t_mult^i steps and starts
//!   again at 1 (the "pop out of a minimum" kick).
//!
//! `lr_min` is a fraction of lr. t counts steps from 0 (the first step uses factor(0) = 1).

use crate::spec::{Param, Range};

/// Schedule names; the index is the code stored in the hyperparameter row and read by WGSL
/// (keep in sync with the SCHEDULE_* constants of shaders/schedule.wgsl).
pub const KINDS: &[&str] = &["constant", "cosine", "step", "restarts"];

/// The schedule kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Constant = 0,
    Cosine = 1,
    Step = 2,
    Restarts = 3,
}

impl Kind {
    /// From the code stored in a hyperparameter row; unknown codes are `Constant`, as the
    /// shader's `default` case.
    pub fn from_code(code: f64) -> Kind {
        match code as u32 {
            1 => Kind::Cosine,
            2 => Kind::Step,
            3 => Kind::Restarts,
            _ => Kind::Constant,
        }
    }
}

pub const SCHEDULE: Param = Param::new(
    "schedule",
    0.0,
    Range::Choice(KINDS),
    "learning-rate schedule: lr(t) = lr * factor(t)",
);
pub const PERIOD: Param = Param::new(
    "period",
    1000.0,
    Range::Positive,
    "schedule length T in steps: cosine decay length, steps per step decay, first restart cycle",
);
pub const GAMMA: Param = Param::new(
    "gamma",
    0.5,
    Range::Closed(0.0, 1.0),
    "step schedule: factor applied every period",
);
pub const LR_MIN: Param = Param::new(
    "lr_min",
    0.0,
    Range::Closed(0.0, 1.0),
    "cosine/restarts: lowest factor, a fraction of lr",
);
pub const T_MULT: Param = Param::new(
    "t_mult",
    1.0,
    Range::Int(1, 64),
    "restarts: each cycle is t_mult times longer than the last (SGDR T_mult)",
);

/// The schedule's parameters, in the order every rule's table ends with (after `clip`).
pub const PARAMS: [Param; 5] = [SCHEDULE, PERIOD, GAMMA, LR_MIN, T_MULT];

/// Whole periods in t: ⌊t/period⌋ (the shader corrects its division at the boundaries; in f64
/// the same correction keeps the two in the same shape).
fn whole_periods(t: f64, period: f64) -> f64 {
    let mut c = (t / period).floor();
    if (c + 1.0) * period <= t {
        c += 1.0;
    }
    if c * period > t {
        c -= 1.0;
    }
    c
}

fn cosine_factor(u: f64, lr_min: f64) -> f64 {
    lr_min + (1.0 - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * u).cos())
}

/// lr(t)/lr for a schedule at step t (the twin of `lr_factor` in shaders/schedule.wgsl).
pub fn factor(kind: Kind, t: f64, period: f64, gamma: f64, lr_min: f64, t_mult: f64) -> f64 {
    match kind {
        Kind::Constant => 1.0,
        Kind::Cosine => cosine_factor((t / period).min(1.0), lr_min),
        Kind::Step => {
            let k = whole_periods(t, period);
            if k == 0.0 {
                1.0
            } else if gamma == 0.0 {
                0.0
            } else {
                gamma.powf(k)
            }
        }
        Kind::Restarts => {
            let mut start = 0.0;
            let mut len = period;
            if t_mult <= 1.0 {
                start = whole_periods(t, period) * period;
            } else {
                while t >= start + len {
                    start += len;
                    len *= t_mult;
                }
            }
            cosine_factor((t - start) / len, lr_min)
        }
    }
}

/// The factor for one walker at step t from its hyperparameters `hp`, whose schedule rows start
/// at index `at` (see `Rule::schedule_at`). Without schedule rows the factor is 1.
pub fn factor_at(hp: &[f64], at: usize, t: u32) -> f64 {
    match hp.get(at..at + PARAMS.len()) {
        Some(&[kind, period, gamma, lr_min, t_mult]) => factor(
            Kind::from_code(kind),
            f64::from(t),
            period,
            gamma,
            lr_min,
            t_mult,
        ),
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-14
    }

    #[test]
    fn constant_is_one() {
        for t in [0.0, 1.0, 1e6] {
            assert_eq!(factor(Kind::Constant, t, 10.0, 0.1, 0.3, 2.0), 1.0);
        }
    }

    #[test]
    fn cosine_by_hand() {
        // T = 100, lr_min = 0.1: 1 at 0, (1 + 0.1)/2 at T/2, 0.1 at T and after;
        // at T/4: 0.1 + 0.9 (1 + cos(pi/4))/2.
        let f = |t| factor(Kind::Cosine, t, 100.0, 0.5, 0.1, 1.0);
        assert!(close(f(0.0), 1.0));
        assert!(close(f(50.0), 0.55));
        assert!(close(f(100.0), 0.1));
        assert!(close(f(250.0), 0.1));
        let quarter = 0.1 + 0.9 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
        assert!(close(f(25.0), quarter));
        // Monotone decreasing over the period.
        let mut prev = 2.0;
        for t in 0..=100 {
            let v = f(f64::from(t));
            assert!(v < prev || t == 100 && v <= prev);
            prev = v;
        }
    }

    #[test]
    fn step_decay_boundaries() {
        // period 30, gamma 0.5: 1 for t in 0..30, 0.5 for 30..60, 0.25 from 60.
        let f = |t| factor(Kind::Step, t, 30.0, 0.5, 0.0, 1.0);
        assert_eq!(f(0.0), 1.0);
        assert_eq!(f(29.0), 1.0);
        assert_eq!(f(30.0), 0.5);
        assert_eq!(f(59.0), 0.5);
        assert_eq!(f(60.0), 0.25);
        assert_eq!(f(300.0), 0.5f64.powi(10));
        // A period that is not a binary fraction: boundaries still fall on multiples.
        let g = |t| factor(Kind::Step, t, 0.3, 0.1, 0.0, 1.0);
        assert_eq!(g(2.0), 0.1f64.powi(6));
        assert_eq!(factor(Kind::Step, 5.0, 2.0, 0.0, 0.0, 1.0), 0.0);
        assert_eq!(factor(Kind::Step, 1.0, 2.0, 0.0, 0.0, 1.0), 1.0);
    }

    #[test]
    fn restarts_jump_back_at_each_cycle_start() {
        // period 10, t_mult 2: cycles [0,10), [10,30), [30,70), [70,150).
        let f = |t| factor(Kind::Restarts, t, 10.0, 0.5, 0.2, 2.0);
        for start in [0.0, 10.0, 30.0, 70.0, 150.0] {
            assert!(close(f(start), 1.0), "restart at {start}");
        }
        // Just before each restart the factor is near lr_min: cycle of length L at L - 1.
        for (end, len) in [(10.0, 10.0), (30.0, 20.0), (70.0, 40.0)] {
            let want = cosine_factor((len - 1.0) / len, 0.2);
            assert!(close(f(end - 1.0), want), "before {end}");
            assert!(f(end - 1.0) < 0.25);
        }
        // Halfway through cycle 2 ([10, 30)) and cycle 3 ([30, 70)).
        assert!(close(f(20.0), 0.6));
        assert!(close(f(50.0), 0.6));
        // t_mult = 1: every cycle is `period` long.
        let g = |t| factor(Kind::Restarts, t, 10.0, 0.5, 0.0, 1.0);
        assert!(close(g(40.0), 1.0) && close(g(45.0), 0.5) && close(g(49.0), g(9.0)));
    }

    #[test]
    fn factor_at_reads_the_schedule_rows() {
        // A rule table [lr, clip, schedule, period, gamma, lr_min, t_mult].
        let hp = [0.1, 0.0, 2.0, 10.0, 0.5, 0.0, 1.0];
        assert_eq!(factor_at(&hp, 2, 25), 0.25);
        assert_eq!(
            factor_at(&hp[..4], 2, 25),
            1.0,
            "no schedule rows: constant"
        );
    }
}
