//! One walker's state on the CPU, laid out like the shader's slots so the reference step rules
//! read side by side with their WGSL. The indices are defined here once: `gpu::contract` emits
//! them (with [`Status`] and `rng::Stream`) as WGSL constants at the top of every module.

/// Defines `pub const NAME: usize` index constants and a table of them by name, in order, from
/// which `gpu::contract::consts` writes `const NAME: u32 = Vu;`: one list, so the CPU and the
/// shader cannot disagree. The table's last entry is the count.
macro_rules! indices {
    ($(#[$tm:meta])* $table:ident { $($(#[$m:meta])* $name:ident = $v:expr,)* }) => {
        $($(#[$m])* pub const $name: usize = $v;)*
        $(#[$tm])*
        pub const $table: &[(&str, usize)] = &[$((stringify!($name), $name)),*];
    };
}

indices! {
    /// Vector slots (N floats per walker each): state[(s * N + i) * stride + w] on the GPU.
    SLOT_NAMES {
        /// Position.
        SLOT_X = 0,
        /// Trial / proposal point.
        SLOT_TRIAL = 1,
        /// Gradient written by an evaluation.
        SLOT_GRAD = 2,
        /// Hessian-vector product output, scratch.
        SLOT_AUX = 3,
        /// Optimizer state (momentum, first moment).
        SLOT_OPT0 = 4,
        /// Optimizer state (second moment).
        SLOT_OPT1 = 5,
        /// Starting point (escape distance).
        SLOT_START = 6,
        SLOTS = 7,
    }
}

indices! {
    /// Per-walker scalars (f64 here, f32 on the GPU: scalars[k * stride + w]).
    SCALAR_NAMES {
        /// f at the current position.
        SC_F = 0,
        /// |grad| (Riemannian on spheres).
        SC_GNORM = 1,
        /// f at the start.
        SC_F0 = 2,
        /// Step-rule scalars (e.g. f at the last perturbation).
        SC_RULE0 = 3,
        SC_RULE1 = 4,
        /// x.grad/N before projection (spheres: the Riemannian Hessian's term).
        SC_RADIAL = 5,
        /// f from the last evaluation (the GPU's hand-over between evaluation and stage kernels).
        SC_EVAL = 6,
        SCALARS = 7,
    }
}

indices! {
    /// Per-walker u32 counters (counters[k * stride + w] on the GPU).
    COUNTER_NAMES {
        CT_STEPS = 0,
        CT_STATUS = 1,
        /// First escape step, [`NO_ESCAPE`] when none.
        CT_ESCAPE = 2,
        /// Step-rule counter (e.g. the step of the last perturbation).
        CT_RULE0 = 3,
        COUNTERS = 4,
    }
}

/// No escape recorded.
pub const NO_ESCAPE: u32 = u32::MAX;

/// Why a walker stopped; the codes are shared with the shader (which gets them as constants
/// named by [`Status::name`] in upper case: RUNNING, CONVERGED, MAX_STEPS, DIVERGED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running = 0,
    Converged = 1,
    MaxSteps = 2,
    Diverged = 3,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 4] = [
        Status::Running,
        Status::Converged,
        Status::MaxSteps,
        Status::Diverged,
    ];
    pub fn from_code(c: u32) -> Status {
        match c {
            1 => Status::Converged,
            2 => Status::MaxSteps,
            3 => Status::Diverged,
            _ => Status::Running,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Converged => "converged",
            Status::MaxSteps => "max_steps",
            Status::Diverged => "diverged",
        }
    }
}

/// A walker: vector slots, f64 scalars and u32 counters, as in the shader.
#[derive(Debug, Clone)]
pub struct WalkerState {
    pub slots: [Vec<f64>; SLOTS],
    pub sc: [f64; SCALARS],
    pub ct: [u32; COUNTERS],
}

impl WalkerState {
    pub fn new(start: &[f64]) -> Self {
        let n = start.len();
        let mut slots: [Vec<f64>; SLOTS] = std::array::from_fn(|_| vec![0.0; n]);
        slots[SLOT_X].copy_from_slice(start);
        slots[SLOT_START].copy_from_slice(start);
        let mut ct = [0; COUNTERS];
        ct[CT_ESCAPE] = NO_ESCAPE;
        WalkerState {
            slots,
            sc: [0.0; SCALARS],
            ct,
        }
    }
    /// The state [`WalkerState::new`] makes from `start`, in place (same length).
    pub fn reset(&mut self, start: &[f64]) {
        for (k, v) in self.slots.iter_mut().enumerate() {
            if k == SLOT_X || k == SLOT_START {
                v.copy_from_slice(start);
            } else {
                v.fill(0.0);
            }
        }
        self.sc = [0.0; SCALARS];
        self.ct = [0; COUNTERS];
        self.ct[CT_ESCAPE] = NO_ESCAPE;
    }
    pub fn x(&self) -> &[f64] {
        &self.slots[SLOT_X]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each table numbers its entries 0, 1, ... and ends with their count.
    #[test]
    fn index_tables_are_consecutive_and_end_with_their_count() {
        for table in [SLOT_NAMES, SCALAR_NAMES, COUNTER_NAMES] {
            let (count, entries) = table.split_last().unwrap();
            for (k, (name, v)) in entries.iter().enumerate() {
                assert_eq!(*v, k, "{name}");
            }
            assert_eq!(count.1, entries.len(), "{}", count.0);
        }
        for (k, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, k);
            assert_eq!(Status::from_code(k as u32), *s);
        }
    }
}
