// schedule.wgsl — learning-rate schedules: the factor lr(t) / lr that every step rule multiplies
// its step size by. Twin: src/rules/schedule.rs (factor), written in the same shape.
// Keep the kind codes in sync with rules::schedule::KINDS.

const SCHEDULE_CONSTANT: u32 = 0u;
const SCHEDULE_COSINE: u32 = 1u;
const SCHEDULE_STEP: u32 = 2u;
const SCHEDULE_RESTARTS: u32 = 3u;
const SCHEDULE_PI: f32 = 3.14159265358979;

// Whole periods in t: floor(t / period), corrected so that the boundaries t = c * period are
// exact even where the division is not correctly rounded (WGSL allows 2.5 ULP).
fn whole_periods(t: f32, period: f32) -> f32 {
    var c = floor(t / period);
    if (c + 1.0) * period <= t {
        c = c + 1.0;
    }
    if c * period > t {
        c = c - 1.0;
    }
    return c;
}

// lr_min + (1 - lr_min) (1 + cos(pi u)) / 2: 1 at u = 0, lr_min at u = 1.
fn cosine_factor(u: f32, lr_min: f32) -> f32 {
    return lr_min + (1.0 - lr_min) * 0.5 * (1.0 + cos(SCHEDULE_PI * u));
}

// constant: 1. cosine: one half cosine from 1 down to lr_min over `period` steps, then lr_min.
// step: gamma^floor(t / period). restarts (SGDR, Loshchilov & Hutter 2017): cosine cycles, the
// first `period` steps long, each next one t_mult times longer, restarting at 1.
fn lr_factor(kind: u32, t: f32, period: f32, gamma: f32, lr_min: f32, t_mult: f32) -> f32 {
    switch kind {
        case 1u: {
            return cosine_factor(min(t / period, 1.0), lr_min);
        }
        case 2u: {
            let k = whole_periods(t, period);
            if k == 0.0 {
                return 1.0;
            }
            if gamma == 0.0 {
                return 0.0;
            }
            return pow(gamma, k);
        }
        case 3u: {
            var start = 0.0;
            var len = period;
            if t_mult <= 1.0 {
                start = whole_periods(t, period) * period;
            } else {
                // t_mult is an integer >= 2: at most ~log2(t / period) cycles to walk past.
                loop {
                    if t < start + len {
                        break;
                    }
                    start = start + len;
                    len = len * t_mult;
                }
            }
            return cosine_factor((t - start) / len, lr_min);
        }
        default: {
            return 1.0;
        }
    }
}
