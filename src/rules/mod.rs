//! Step rules (optimizers): each exists as WGSL (shaders/rules/NAME.wgsl, a `rule_step` and a
//! `rule_may_stop` function) and as a plain Rust reference in the same shape, in its own file.
//! Hyperparameters are per-walker data: the shader reads `hyper[hp(HP_KEY, w)]`, with the
//! `HP_*` indices emitted by the host from the rule's parameter table. Any numeric,
//! non-integer hyperparameter may be a range `lo..hi` / `lo..hi:log` spread across walkers
//! ([`Optimizer::hyper_rows`]). Every rule ends its table with `clip` and the learning-rate
//! schedule ([`schedule`]), and multiplies its step size by the schedule's factor.
//! Second-order rules (`newton`, `sfn`) have no WGSL: they run on the CPU twin only.

use crate::objective::Objective;
use crate::spec::{self, Param, Range, RawSpec, SpecError, Sweep, Values};
use crate::walk::state::{WalkerState, SCALARS, SLOTS};
use crate::walk::Hyper;

/// How many parameters every rule's table ends with: `clip`, `batch` and the schedule's five.
pub const COMMON_PARAMS: usize = 2 + schedule::PARAMS.len();

/// A rule's parameter table: its own parameters, then the ones every rule has — `clip`,
/// `batch`, then the schedule's (`schedule, period, gamma, lr_min, t_mult`). Own parameters
/// keep indices 0, 1, ... and `clip` follows them, so a rule reads `hp[k]` by its own
/// constants.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[
            $($p,)*
            $crate::rules::CLIP,
            $crate::rules::BATCH,
            $crate::rules::schedule::SCHEDULE,
            $crate::rules::schedule::PERIOD,
            $crate::rules::schedule::GAMMA,
            $crate::rules::schedule::LR_MIN,
            $crate::rules::schedule::T_MULT,
        ]
    };
}

mod adam;
mod anneal;
mod gd;
mod gradnorm;
mod langevin;
pub mod minres;
mod momentum;
mod nesterov;
mod newton;
pub mod newton_mr;
mod noisy_step;
mod pgd;
mod rmsprop;
pub mod schedule;
mod second_order;
mod sfn;
mod sgd;

/// Everything a reference step needs besides the walker: the objective, the RNG key and the
/// schedule's factor at this step.
pub struct Ctx<'a> {
    pub obj: &'a dyn Objective,
    pub seed: u64,
    /// Global walker id (RNG counter word 0).
    pub walker: u32,
    /// Step number (RNG counter word 1).
    pub t: u32,
    /// lr(t)/lr from this walker's schedule rows ([`schedule::factor_at`]); every rule
    /// multiplies its step size by it (the shader passes the same factor to `rule_step`).
    pub lr_scale: f64,
}

/// Reference step: updates the walker whose gradient (Riemannian on spheres), f and |grad|
/// are already in SLOT_GRAD, SC_F and SC_GNORM. `hp` holds this walker's hyperparameters in
/// table order.
pub type StepFn = fn(&Ctx, &mut WalkerState, &[f64]);
/// Whether a walker with |grad| <= grad_tol may stop as converged now.
pub type MayStopFn = fn(&Ctx, &WalkerState, &[f64]) -> bool;

/// One part of a rule's step on the GPU, after the gradient at x is evaluated and observed.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// A WGSL function `fn NAME(w: u32, t: u32, lr_scale: f32)` of the rule's source.
    Stage(&'static str),
    /// An evaluation of the objective that the next stage reads.
    Eval(Eval),
    /// The inner ops `count(N)` times (an iteration inside a step, e.g. MINRES); stages read
    /// their own per-walker state to skip iterations they no longer need.
    Repeat(fn(usize) -> usize, &'static [Op]),
}

/// `ops` with every [`Op::Repeat`] written out for dimension `n`.
pub fn unrolled(ops: &[Op], n: usize) -> Vec<Op> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Repeat(count, inner) => {
                for _ in 0..count(n) {
                    out.extend(unrolled(inner, n));
                }
            }
            op => out.push(*op),
        }
    }
    out
}

/// An evaluation of the objective at a vector slot (indices of `walk::state`). The fused engine
/// calls the objective's per-walker functions inline; the multi-pass engine dispatches the
/// objective's passes for every running walker between two stage kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eval {
    /// f and the Euclidean gradient at x: the gradient into SLOT_GRAD, f into SC_EVAL.
    Grad { x: usize },
    /// f at x into SC_EVAL.
    Value { x: usize },
    /// The Euclidean Hessian at x times v, into `out` (neither x nor v).
    Hvp { x: usize, v: usize, out: usize },
}

/// A step rule as registered: name, parameters, WGSL and reference.
pub struct Rule {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The WGSL stage functions and `rule_may_stop`; `None` for rules that run on the CPU twin
    /// only (they need the objective's f64 Hessian, which exists only in Rust).
    pub wgsl: Option<&'static str>,
    /// The step on the GPU: the rule's WGSL stage functions in order, with the objective
    /// evaluations the later stages read between them (empty for CPU-only rules).
    pub program: &'static [Op],
    /// Vector slots and scalars the rule's WGSL needs beyond the shared ones, by name (their
    /// indices follow the shared ones: `SLOTS`, `SLOTS + 1`, …; `SCALARS`, …).
    pub gpu_slots: &'static [&'static str],
    pub gpu_scalars: &'static [&'static str],
    pub step: StepFn,
    pub may_stop: MayStopFn,
    /// The largest dimension N the rule accepts (`None`: any).
    pub max_dim: Option<usize>,
}

impl Rule {
    /// Vector slots per walker on the GPU: the shared ones and the rule's own.
    pub fn slots(&self) -> usize {
        SLOTS + self.gpu_slots.len()
    }
    /// Scalars per walker on the GPU.
    pub fn scalars(&self) -> usize {
        SCALARS + self.gpu_scalars.len()
    }
    /// True when the rule has no WGSL and runs on the CPU twin whatever the backend.
    pub fn cpu_only(&self) -> bool {
        self.wgsl.is_none()
    }
    /// Index of the first schedule row (`schedule`) in the parameter table.
    pub fn schedule_at(&self) -> usize {
        self.params
            .iter()
            .position(|p| p.key == "schedule")
            .unwrap_or(self.params.len())
    }
}

/// Every step rule, in the order `list` prints them: the one list of rules (each is
/// src/rules/NAME.rs beside shaders/rules/NAME.wgsl; the tests iterate this list).
pub fn registry() -> Vec<&'static Rule> {
    vec![
        &gd::GD,
        &momentum::MOMENTUM,
        &nesterov::NESTEROV,
        &adam::ADAM,
        &rmsprop::RMSPROP,
        &sgd::SGD,
        &langevin::LANGEVIN,
        &pgd::PGD,
        &anneal::ANNEAL,
        &gradnorm::GRADNORM,
        &newton_mr::NEWTON_MR,
        &newton::NEWTON,
        &sfn::SFN,
    ]
}

/// A walker's hyperparameter value as a table writes it: a count (`batch`) as an integer,
/// any other value as `output::num` writes numbers.
pub fn show_hyper(key: &str, v: f64) -> String {
    if key == BATCH.key {
        format!("{}", v as u64)
    } else {
        crate::output::num(v)
    }
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

/// The parameter every rule has: minibatches of a data loss (`mlp`). At every step, after the
/// full-batch gradient has been observed (the convergence test, f and the escape tests always
/// use the full-batch loss), walker w evaluates everything its step needs — the gradient and
/// any further value, gradient or H v — on its own B samples, drawn without replacement by
/// `rng::minibatch_index` keyed by (seed, w, t), identically on the GPU and in the twin; the
/// rule's f and |grad| (clipping, line searches, Metropolis tests) are then the minibatch's.
pub const BATCH: Param = Param::new(
    "batch",
    0.0,
    Range::Count(crate::objective::MAX_SAMPLES as i64),
    "minibatch size B of a data loss (mlp), drawn per walker and step (0 = full batch)",
);

/// A resolved optimizer: the rule and its hyperparameter values (one per table key).
pub struct Optimizer {
    pub rule: &'static Rule,
    pub values: Values,
}

impl Optimizer {
    /// The canonical spec: every parameter of the rule's own table and `clip`, then the
    /// schedule and its parameters unless the schedule is constant with every schedule
    /// parameter at its default (then they would say nothing), so method names in tables stay
    /// readable; parsing it back gives the same optimizer.
    pub fn spec(&self) -> String {
        let (own, sched) = self.rule.params.split_at(self.rule.schedule_at());
        let at_default =
            |p: &Param| !self.values.is_swept(p.key) && self.values.value(p) == p.default;
        let silent = sched.iter().all(at_default);
        // `batch` is said only when a walker uses minibatches.
        let shown: Vec<Param> = own
            .iter()
            .filter(|p| p.key != BATCH.key || !at_default(p))
            .chain(sched.iter().filter(|_| !silent))
            .copied()
            .collect();
        self.values.canonical(&shown)
    }
    /// The smallest and largest minibatch size over the walkers (0: full batch).
    pub fn batch_range(&self) -> (usize, usize) {
        match self.values.sweeps.get(BATCH.key) {
            Some(s) => (s.lo as usize, s.hi as usize),
            None => {
                let b = self.values.value(&BATCH) as usize;
                (b, b)
            }
        }
    }
    /// Index of `batch` in the parameter table.
    pub fn batch_at(&self) -> usize {
        self.rule.params.len() - COMMON_PARAMS + 1
    }
    /// Hyperparameters in table order, one value per key; a key given as a range gives its
    /// lower end `lo` (use [`Optimizer::hyper_rows`] for the per-walker values).
    pub fn hyper(&self) -> Vec<f64> {
        self.rule
            .params
            .iter()
            .map(|p| self.values.value(p))
            .collect()
    }
    /// Per-walker hyperparameter rows for `walkers` walkers, in table order: a plain value is
    /// repeated; a range `lo..hi` gives walker k of W the value lo + (hi − lo)·k/(W − 1), and
    /// `lo..hi:log` the value lo·(hi/lo)^(k/(W − 1)) (walker 0: lo, walker W − 1: hi, W = 1:
    /// lo). Walker k is the k-th walker of the run (or of an arm), in walker order.
    pub fn hyper_rows(&self, walkers: usize) -> Hyper {
        Hyper {
            rows: self
                .rule
                .params
                .iter()
                .map(|p| match self.values.sweeps.get(p.key) {
                    // A count's share of the range is rounded to the nearest integer.
                    Some(s) if matches!(p.range, Range::Count(_)) => {
                        (0..walkers).map(|k| s.at(k, walkers).round()).collect()
                    }
                    Some(s) => (0..walkers).map(|k| s.at(k, walkers)).collect(),
                    None => vec![self.values.value(p); walkers],
                })
                .collect(),
        }
    }
    /// The keys given as ranges, with their row index in the table, in table order.
    pub fn sweeps(&self) -> Vec<(usize, &'static str, Sweep)> {
        self.rule
            .params
            .iter()
            .enumerate()
            .filter_map(|(k, p)| self.values.sweeps.get(p.key).map(|s| (k, p.key, *s)))
            .collect()
    }
    /// Usage checks that need the objective: a rule's dimension limit (Newton-type rules:
    /// N <= 64).
    pub fn check_objective(&self, obj: &dyn Objective) -> Result<(), SpecError> {
        let (_, most) = self.batch_range();
        let p = obj.samples();
        if most > 0 && p == 0 {
            return Err(SpecError::Invalid(format!(
                "optimizer '{}': batch={} draws minibatches of a data loss's samples, and the \
                 objective {} has no data; valid: batch=0 (the default), or an objective with \
                 data (mlp)",
                self.rule.name,
                self.values.text_of(&BATCH),
                obj.spec()
            )));
        }
        if most > p && p > 0 {
            return Err(SpecError::Invalid(format!(
                "optimizer '{}': batch={} is larger than the P = {p} samples of {}; valid: \
                 batch in 0..={p} (0 = full batch)",
                self.rule.name,
                self.values.text_of(&BATCH),
                obj.spec()
            )));
        }
        match self.rule.max_dim {
            Some(max) if obj.dim() > max => Err(SpecError::Invalid(format!(
                "optimizer '{}' works for N <= {max} (it solves with the dense N x N Hessian \
                 on the CPU); the objective {} has N = {}",
                self.rule.name,
                obj.spec(),
                obj.dim()
            ))),
            _ => Ok(()),
        }
    }
    /// WGSL constants naming the hyperparameter rows (`const HP_LR: u32 = 0u;`) and the
    /// rule's own slots and scalars (after the shared ones).
    pub fn wgsl_consts(&self) -> String {
        let mut s: String = self
            .rule
            .params
            .iter()
            .enumerate()
            .map(|(k, p)| format!("const HP_{}: u32 = {k}u;\n", p.key.to_uppercase()))
            .collect();
        for (k, name) in self.rule.gpu_slots.iter().enumerate() {
            s.push_str(&format!("const {name}: u32 = {}u;\n", SLOTS + k));
        }
        for (k, name) in self.rule.gpu_scalars.iter().enumerate() {
            s.push_str(&format!("const {name}: u32 = {}u;\n", SCALARS + k));
        }
        s
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
    let values = spec::resolve_with_ranges(&raw, rule.params)?;
    Ok(Optimizer { rule, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_clip_and_the_schedule_and_reads_its_rows() {
        let walk = crate::gpu::shader::OBSERVE;
        for r in registry() {
            assert!(r.params.iter().any(|p| p.key == "clip"), "{}", r.name);
            // The schedule rows close every table, in schedule::PARAMS order.
            let at = r.schedule_at();
            assert_eq!(at + schedule::PARAMS.len(), r.params.len(), "{}", r.name);
            assert_eq!(r.params[r.params.len() - COMMON_PARAMS].key, "clip");
            for (p, q) in r.params[at..].iter().zip(&schedule::PARAMS) {
                assert_eq!(p.key, q.key, "{}", r.name);
            }
            let Some(wgsl) = r.wgsl else {
                assert!(r.max_dim.is_some(), "{}: CPU-only rules bound N", r.name);
                continue;
            };
            // `batch` sits between clip and the schedule; data losses read it (mlp.wgsl).
            assert_eq!(r.params[at - 1].key, BATCH.key, "{}", r.name);
            let data = include_str!("../../shaders/objectives/mlp.wgsl");
            assert!(data.contains("hyper[hp(HP_BATCH, w)]"));
            for p in r.params.iter().filter(|p| p.key != BATCH.key) {
                // The schedule rows are read by observe.wgsl (schedule_at), the rest by the rule.
                let name = format!("HP_{}", p.key.to_uppercase());
                assert!(
                    wgsl.contains(&name)
                        || r.params[at..].iter().any(|q| q.key == p.key) && walk.contains(&name),
                    "{} never reads {}",
                    r.name,
                    p.key
                );
            }
            // Once in the signature of rule_step, at least once where the step size is scaled.
            assert!(
                wgsl.matches("lr_scale").count() >= 2,
                "{} ignores the schedule",
                r.name
            );
        }
    }

    /// One rule per file beside its WGSL: src/rules/NAME.rs for every registered rule, whose
    /// first line names shaders/rules/NAME.wgsl (or says it has none), and for every WGSL file
    /// of a rule or a helper a Rust file of the same name, each naming the other.
    #[test]
    fn every_rule_file_sits_beside_its_wgsl_twin() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let first_line = |stem: &str| -> String {
            let path = root.join("src/rules").join(format!("{stem}.rs"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            text.lines().next().unwrap_or_default().to_string()
        };
        for r in registry() {
            let stem = r.name.replace('-', "_");
            let line = first_line(&stem);
            let twin = format!("WGSL twin: shaders/rules/{stem}.wgsl");
            match r.wgsl {
                Some(_) => assert!(line.contains(&twin), "src/rules/{}.rs: {line}", r.name),
                None => assert!(
                    line.contains("No WGSL twin"),
                    "src/rules/{}.rs: {line}",
                    r.name
                ),
            }
        }
        let wgsl = std::fs::read_dir(root.join("shaders/rules")).unwrap();
        for entry in wgsl {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            let line = first_line(&stem);
            assert!(
                line.contains(&format!("WGSL twin: shaders/rules/{stem}.wgsl")),
                "src/rules/{stem}.rs: {line}"
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let header: String = text.lines().take_while(|l| l.starts_with("//")).collect();
            assert!(
                header.contains(&format!("src/rules/{stem}.rs")),
                "{} does not name src/rules/{stem}.rs",
                path.display()
            );
        }
    }

    #[test]
    fn ranges_become_per_walker_rows() {
        let opt = parse("adam:lr=1e-4..1e-1:log,beta1=0.5..0.9,period=10..40").unwrap();
        assert_eq!(opt.hyper()[0], 1e-4, "hyper() gives lo for a range");
        let rows = opt.hyper_rows(4);
        let lr = [1e-4, 1e-3, 1e-2, 1e-1];
        let beta1 = [0.5, 0.5 + 0.4 / 3.0, 0.5 + 0.8 / 3.0, 0.9];
        let period = [10.0, 20.0, 30.0, 40.0];
        for k in 0..4 {
            assert!((rows.get(0, k) / lr[k] - 1.0).abs() < 1e-14);
            assert!((rows.get(1, k) - beta1[k]).abs() < 1e-15);
            assert!((rows.get(opt.rule.schedule_at() + 1, k) - period[k]).abs() < 1e-13);
            assert_eq!(rows.get(2, k), 0.999, "beta2 is not swept");
        }
        let keys: Vec<&str> = opt.sweeps().iter().map(|s| s.1).collect();
        assert_eq!(keys, ["lr", "beta1", "period"]);
        assert!(opt.spec().contains("lr=0.0001..0.1:log"), "{}", opt.spec());
        assert!(parse(&opt.spec()).unwrap().values == opt.values);
        let one = opt.hyper_rows(1);
        assert_eq!(one.get(0, 0), 1e-4);
    }

    #[test]
    fn batch_sizes_are_counts_that_may_spread_over_walkers() {
        let opt = parse("gd:lr=0.1").unwrap();
        assert_eq!(opt.batch_range(), (0, 0));
        assert!(!opt.spec().contains("batch"), "{}", opt.spec());
        let opt = parse("gd:batch=32").unwrap();
        assert_eq!(opt.batch_range(), (32, 32));
        assert!(opt.spec().contains("batch=32"), "{}", opt.spec());
        assert!(parse(&opt.spec()).unwrap().values == opt.values);
        let opt = parse("adam:batch=4..10").unwrap();
        let rows = opt.hyper_rows(5);
        let b: Vec<f64> = (0..5).map(|k| rows.get(opt.batch_at(), k)).collect();
        assert_eq!(b, [4.0, 6.0, 7.0, 9.0, 10.0], "rounded shares of the range");
        assert_eq!(opt.batch_range(), (4, 10));
        for bad in [
            "gd:batch=2.5",
            "gd:batch=-1",
            "gd:batch=1.5..8",
            "gd:batch=99999",
        ] {
            let e = parse(bad).err().unwrap().to_string();
            assert!(e.contains("batch"), "{bad}: {e}");
        }
    }

    #[test]
    fn choices_and_integers_in_rule_specs() {
        let opt = parse("gd:schedule=restarts,t_mult=2").unwrap();
        assert_eq!(opt.values.get("schedule"), Ok(3.0));
        assert!(opt.spec().contains("schedule=restarts"));
        let e = parse("gd:schedule=linear").err().unwrap().to_string();
        assert!(e.contains("constant, cosine, step, restarts"), "{e}");
        let e = parse("gd:t_mult=1..3").err().unwrap().to_string();
        assert!(e.contains("t_mult") && e.contains("integer"), "{e}");
        let e = parse("pgd:t_thres=10..20").err().unwrap().to_string();
        assert!(e.contains("t_thres") && e.contains("integer"), "{e}");
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
