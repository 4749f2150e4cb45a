//! Step rules (optimizers): each exists as WGSL (shaders/rules/NAME.wgsl, a `rule_step` and a
//! `rule_may_stop` function) and as a plain Rust reference in the same shape, in its own file.
//! Hyperparameters are per-walker data: the shader reads `hyper[hp(HP_KEY, w)]`, with the
//! `HP_*` indices emitted by the host from the rule's parameter table.

use crate::objective::Objective;
use crate::spec::{self, Param, Range, RawSpec, SpecError, Values};
use crate::walk::state::WalkerState;

mod adaptive;
mod anneal;
mod gd;
mod gradnorm;
mod momentum;
mod noisy;
mod pgd;

/// Everything a reference step needs besides the walker: the objective and the RNG key.
pub struct Ctx<'a> {
    pub obj: &'a dyn Objective,
    pub seed: u64,
    /// Global walker id (RNG counter word 0).
    pub walker: u32,
    /// Step number (RNG counter word 1).
    pub t: u32,
}

/// Reference step: updates the walker whose gradient (Riemannian on spheres), f and |grad|
/// are already in SLOT_GRAD, SC_F and SC_GNORM. `hp` holds this walker's hyperparameters in
/// table order.
pub type StepFn = fn(&Ctx, &mut WalkerState, &[f64]);
/// Whether a walker with |grad| <= grad_tol may stop as converged now.
pub type MayStopFn = fn(&Ctx, &WalkerState, &[f64]) -> bool;

/// A step rule as registered: name, parameters, WGSL and reference.
pub struct Rule {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub wgsl: &'static str,
    pub step: StepFn,
    pub may_stop: MayStopFn,
}

/// Every step rule, in the order `list` prints them.
pub fn registry() -> Vec<&'static Rule> {
    vec![
        &gd::GD,
        &momentum::MOMENTUM,
        &momentum::NESTEROV,
        &adaptive::ADAM,
        &adaptive::RMSPROP,
        &noisy::SGD,
        &noisy::LANGEVIN,
        &pgd::PGD,
        &anneal::ANNEAL,
        &gradnorm::GRADNORM,
    ]
}

pub fn always_may_stop(_: &Ctx, _: &WalkerState, _: &[f64]) -> bool {
    true
}

/// Gradient-norm clipping factor min(1, clip/|g|); clip = 0 turns it off (as in common.wgsl).
pub fn clip_scale(gnorm: f64, clip: f64) -> f64 {
    if clip > 0.0 && gnorm > clip {
        clip / gnorm
    } else {
        1.0
    }
}

/// The parameter every rule has.
pub const CLIP: Param = Param::new(
    "clip",
    0.0,
    Range::NonNegative,
    "gradient-norm clipping threshold (0 = off)",
);

/// A resolved optimizer: the rule and its hyperparameter values (one per table key).
pub struct Optimizer {
    pub rule: &'static Rule,
    pub values: Values,
}

impl Optimizer {
    pub fn spec(&self) -> String {
        self.values.canonical(self.rule.params)
    }
    /// Hyperparameters in table order.
    pub fn hyper(&self) -> Vec<f64> {
        self.rule
            .params
            .iter()
            .map(|p| self.values.get(p.key))
            .collect()
    }
    /// WGSL constants naming the hyperparameter rows: `const HP_LR: u32 = 0u;`.
    pub fn wgsl_consts(&self) -> String {
        self.rule
            .params
            .iter()
            .enumerate()
            .map(|(k, p)| format!("const HP_{}: u32 = {k}u;\n", p.key.to_uppercase()))
            .collect()
    }
}

pub fn parse(text: &str) -> Result<Optimizer, SpecError> {
    let raw = RawSpec::parse(text)?;
    let reg = registry();
    let rule = reg
        .iter()
        .find(|r| r.name == raw.name)
        .ok_or_else(|| SpecError::UnknownName {
            what: "optimizer",
            name: raw.name.clone(),
            valid: reg.iter().map(|r| r.name).collect::<Vec<_>>().join(", "),
        })?;
    let values = spec::resolve(&raw, rule.params)?;
    Ok(Optimizer { rule, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_clip_and_valid_consts() {
        for r in registry() {
            assert!(r.params.iter().any(|p| p.key == "clip"), "{}", r.name);
            for p in r.params {
                assert!(
                    r.wgsl.contains(&format!("HP_{}", p.key.to_uppercase()))
                        || p.key == "clip" && r.wgsl.contains("HP_CLIP"),
                    "{} never reads {}",
                    r.name,
                    p.key
                );
            }
        }
    }

    #[test]
    fn bad_optimizer_specs_name_the_problem() {
        let e = parse("gd:lr=0").err().unwrap().to_string();
        assert!(e.contains("lr") && e.contains("> 0"), "{e}");
        let e = parse("momentum:beta=1").err().unwrap().to_string();
        assert!(e.contains("beta"), "{e}");
        let e = parse("bfgs").err().unwrap().to_string();
        assert!(e.contains("adam") && e.contains("gradnorm"), "{e}");
    }
}
