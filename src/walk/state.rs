//! One walker's state on the CPU, laid out like the shader's slots so the reference step rules
//! read side by side with their WGSL (keep the indices in sync with shaders/common.wgsl).

pub const SLOT_X: usize = 0;
pub const SLOT_TRIAL: usize = 1;
pub const SLOT_GRAD: usize = 2;
pub const SLOT_AUX: usize = 3;
pub const SLOT_OPT0: usize = 4;
pub const SLOT_OPT1: usize = 5;
pub const SLOT_START: usize = 6;
pub const SLOTS: usize = 7;

pub const SC_F: usize = 0;
pub const SC_GNORM: usize = 1;
pub const SC_F0: usize = 2;
pub const SC_RULE0: usize = 3;
pub const SC_RULE1: usize = 4;
pub const SC_RADIAL: usize = 5;
/// f from the last evaluation (the GPU's hand-over between evaluation and stage kernels).
pub const SC_EVAL: usize = 6;
pub const SCALARS: usize = 7;

pub const CT_STEPS: usize = 0;
pub const CT_STATUS: usize = 1;
pub const CT_ESCAPE: usize = 2;
pub const CT_RULE0: usize = 3;
pub const COUNTERS: usize = 4;

/// No escape recorded.
pub const NO_ESCAPE: u32 = u32::MAX;

/// Why a walker stopped; the codes are shared with the shader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running = 0,
    Converged = 1,
    MaxSteps = 2,
    Diverged = 3,
}

impl Status {
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
    pub fn x(&self) -> &[f64] {
        &self.slots[SLOT_X]
    }
}
