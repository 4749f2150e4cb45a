//! `saddlescope sweep`: critical-point statistics against dimension, averaged over disorder.
//! For each dimension N, K instances of a random landscape (seeds derived from --seed), W
//! walkers on each, all instances of one N in one dispatch; then the critical-point catalogue of
//! each instance separately, and tables and figures of minima, saddles and index against N.

pub mod tables;

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::critical::mirror::MirrorCheck;
use crate::critical::{self, CatalogueOptions};
use crate::objective::{self, Objective};
use crate::output::Csv;
use crate::rng;
use crate::rules::{self, Optimizer};
use crate::run::memory::{Estimate, Need};
use crate::run::shard::Shard;
use crate::run::{self, Command, Ctx, Manifest, Report, WalkOptions};
use crate::sample::Descent;
use crate::spec::{self, RawSpec, SpecError};
use crate::walk::init::Init;
use crate::walk::state::Status;
use crate::walk::{Hyper, WalkPlan};
use tables::{DimStats, InstanceRow, PointRow};

/// Everything `sweep` needs, as the user gave it (the command line's flags; the manifest's
/// `spec`).
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[command(allow_negative_numbers = true)]
pub struct SweepSpec {
    /// Landscape without n (and seed), e.g. field:features=256,mu=0.05, pspin:p=3, or a
    /// deterministic family such as double-well, rastrigin, styblinski-tang (one instance)
    #[arg(long)]
    pub objective: String,
    /// Dimensions N, e.g. 2,4,8,16
    #[arg(long, value_delimiter = ',', required = true)]
    pub dims: Vec<usize>,
    /// Disorder instances per dimension (landscape seeds derived from --seed) [default: 10;
    /// 1, the only valid value, for a deterministic family]
    #[arg(long)]
    #[serde(default)]
    pub instances: Option<usize>,
    /// Critical-point finder; the default newton-mr needs no step size and finds points of
    /// every index. A range (lo..hi) spreads over the walkers of every instance alike.
    #[arg(long, default_value = "newton-mr")]
    pub optimizer: String,
    /// --descent and --descent-steps, as `sample`'s.
    #[command(flatten)]
    #[serde(flatten)]
    pub descent: crate::sample::DescentOptions,
    /// Walkers per instance.
    #[arg(long, default_value_t = 1024)]
    pub walkers: usize,
    /// auto | uniform:lo=A,hi=B | normal:sigma=S[,center=a;b;..] | point:x=a;b;.. (one value
    /// per dimension, so only with a single N in --dims)
    #[arg(long, default_value = "auto")]
    pub init: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub walk: WalkOptions,
    /// Walk only shard K of N of every dimension's instances (K/N); `saddlescope merge` joins
    /// the N folders into the folder of one sweep.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// The prediction drawn with the index-vs-energy figure, when the landscape has one.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Theory {
    None,
    /// Spherical p-spin: index fraction α(u) = F(p u / (2√(p(p−1)))) at energy per spin u.
    Pspin {
        p: u32,
    },
    /// Gaussian field (squared-exponential covariance, length l) in the bowl mu/2 |x|²: at a
    /// critical point where the field part is v = f − mu/2 |x|², α = F((v − mu l²) / (2√N)).
    Field {
        length: f64,
        mu: f64,
    },
}

impl Theory {
    /// The predicted index fraction at a point of dimension `dim` with value `f` and |x|².
    /// `None` when there is no prediction. Derivations: docs/sweep.md.
    pub fn index_fraction(&self, dim: usize, energy: f64) -> Option<f64> {
        match *self {
            Theory::None => None,
            Theory::Pspin { p } => {
                let p = f64::from(p);
                Some(crate::stats::semicircle_cdf(
                    p * energy / (2.0 * (p * (p - 1.0)).sqrt()),
                ))
            }
            Theory::Field { length, mu } => Some(crate::stats::semicircle_cdf(
                (energy - mu * length * length) / (2.0 * (dim as f64).sqrt()),
            )),
        }
    }

    /// The energy variable the prediction is a function of, for one point: H/N on the p-spin,
    /// the field part v = f − mu/2 |x|² for `field`, f otherwise.
    pub fn energy(&self, p: &PointRow) -> f64 {
        match *self {
            Theory::Pspin { .. } => p.f / p.dim as f64,
            Theory::Field { mu, .. } => p.f - 0.5 * mu * p.x_norm2,
            Theory::None => p.f,
        }
    }

    /// Axis label of [`Theory::energy`].
    pub fn energy_label(&self) -> &'static str {
        match self {
            Theory::Pspin { .. } => "energy per spin u = H/N",
            Theory::Field { .. } => "field value v = f − μ|x|²/2",
            Theory::None => "f",
        }
    }

    fn of(obj_name: &str, v: &spec::Values) -> Result<Theory, SpecError> {
        Ok(match obj_name {
            "pspin" => Theory::Pspin {
                p: v.get("p")? as u32,
            },
            "field" => Theory::Field {
                length: v.get("length")?,
                mu: v.get("mu")?,
            },
            _ => Theory::None,
        })
    }
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    /// Objective name and the user's parameters as key=value (positionals named).
    name: String,
    keys: Vec<(String, String)>,
    /// Dimensions, ascending.
    pub dims: Vec<usize>,
    pub instances: usize,
    pub walkers: usize,
    /// The slice of every dimension's instances this run walks (None: all).
    pub shard: Option<Shard>,
    pub opt: Optimizer,
    pub init: Init,
    pub plan: WalkPlan,
    pub theory: Theory,
    pub sphere: bool,
    /// The objective spec with N and seed as placeholders, for the manifest.
    pub template: String,
    /// The family has disorder (a seed); false: one deterministic landscape per N.
    pub random: bool,
    /// A formula objective (`expr:`): its program, whose `n` each instance sets.
    formula: Option<objective::expr::parse::Program>,
    /// `mlp`: the widths as given (D-H1-…-O); each dimension d of --dims sets every hidden
    /// width to d, and N is the network's parameter count.
    widths: Option<Vec<usize>>,
    /// The objective's dimension N of each entry of `dims` (for mlp the parameter count, for
    /// the others the entry itself).
    pub ns: Vec<usize>,
    /// The walk before the finder's (`--descent`), when there is one.
    pub descent: Option<Descent>,
}

impl Resolved {
    /// The memory of the dimension that needs the most: all its instances' landscapes are
    /// held at once (their parameters, twice: as drawn and as the engines read them), and all
    /// their walkers.
    pub fn memory(&self) -> Estimate {
        let (k, w) = (self.instances as u64, self.walkers as u64);
        // The two walks run one after the other: the larger of their states.
        let of_opt = |o: &Optimizer| (o.rule.slots() as u64, o.hyper().len() as u64);
        let (slots, hyper) = of_opt(&self.opt);
        let (slots, hyper) = self.descent.as_ref().map_or((slots, hyper), |d| {
            let (s, h) = of_opt(&d.opt);
            (slots.max(s), hyper.max(h))
        });
        let of = |d: usize| {
            let obj = self.instance(d, 0).ok();
            let params = obj.as_ref().map_or(0, |o| o.params().len()) as u64;
            let n = obj.as_ref().map_or(d, |o| o.dim());
            let mut e = Estimate::new();
            e.add(
                format!("{k} landscapes of {params} parameters at N = {n}"),
                k,
                params.saturating_mul(16),
            )
            .walkers(k.saturating_mul(w), n as u64, slots, hyper)
            .catalogue(w, n as u64);
            e
        };
        self.dims
            .iter()
            .map(|&n| of(n))
            .max_by_key(Estimate::total)
            .unwrap_or_default()
    }
}

/// Instances per dimension of a random landscape when --instances is not given.
pub const DEFAULT_INSTANCES: usize = 10;

/// The landscape seed of instance `k` at dimension `n`: the low 53 bits of
/// Philox4x32-10(counter = (n, k, 0, 0x5357_4550), key = sweep seed), words 0 and 1. A pure
/// function of (seed, n, k): instance k of dimension N is the same landscape whatever other
/// dimensions or instance counts the sweep has.
pub fn instance_seed(seed: u64, n: usize, k: usize) -> u64 {
    let b = rng::philox4x32_10([n as u32, k as u32, 0, 0x5357_4550], rng::key(seed));
    (u64::from(b[0]) | (u64::from(b[1]) << 32)) & ((1u64 << 53) - 1)
}

fn invalid(msg: String) -> SpecError {
    SpecError::Invalid(msg)
}

impl SweepSpec {
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let mut r = self.resolve_family()?;
        // The family's descent (mlp's is the same at every width); it must suit every N.
        r.descent = self
            .descent
            .resolve(r.instance(r.dims[0], 0)?.as_ref(), &r.opt)?;
        if let Some(d) = &r.descent {
            for &n in &r.dims {
                d.opt
                    .check_objective(r.instance(n, 0)?.as_ref())
                    .map_err(|e| invalid(format!("--dims {n}: --descent: {e}")))?;
            }
        }
        Ok(r)
    }

    /// [`SweepSpec::resolve`] but the descent.
    fn resolve_family(&self) -> Result<Resolved, SpecError> {
        if let Some(text) = self
            .objective
            .trim_start()
            .strip_prefix(objective::expr::PREFIX)
        {
            return self.resolve_formula(text);
        }
        let raw = RawSpec::parse(&self.objective)?;
        let reg = objective::registry();
        if raw.name == "mlp" {
            return self.resolve_mlp(&raw, &reg);
        }
        let entry = dimension_entry(&raw, &reg)?;
        let random = entry.params.iter().any(|p| p.key == "seed");
        let keys = self.fixed_keys(&raw, entry)?;
        let dims = self.checked_dims()?;
        let instances = self.checked_instances(entry.name, random)?;
        let max_walkers = crate::sample::MAX_WALKERS / instances;
        crate::sample::check_walkers("--walkers", self.walkers, max_walkers)?;
        let plan = self.walk.plan()?;
        let opt = rules::parse(&self.optimizer)?;
        let init = Init::parse(&self.init)?;
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if let Some(s) = shard {
            s.check(instances, "instances per dimension")?;
        }
        let mut resolved = Resolved {
            name: entry.name.to_string(),
            keys,
            dims,
            instances,
            walkers: self.walkers,
            shard,
            opt,
            init,
            plan,
            theory: Theory::None,
            sphere: false,
            template: String::new(),
            random,
            formula: None,
            widths: None,
            ns: Vec::new(),
            descent: None,
        };
        resolved.check_dims()?;
        let first = resolved.instance_spec(resolved.dims[0], 0);
        let values = spec::resolve(&RawSpec::parse(&first)?, entry.params)?;
        resolved.theory = Theory::of(entry.name, &values)?;
        resolved.template = template(entry, &values);
        Ok(resolved)
    }

    /// A formula objective swept over N: the formula's `n` is each dimension of --dims (a
    /// formula written with `sum(i, 0, n-1, …)` is a family); one instance per N.
    fn resolve_formula(&self, text: &str) -> Result<Resolved, SpecError> {
        let formula = objective::expr::Expr::program(text)?;
        if let Some(n) = formula.n {
            return Err(invalid(format!(
                "--objective sets n = {n}; a sweep sets n itself (from --dims); remove 'n = {n};' \
                 from the formula"
            )));
        }
        let dims = self.checked_dims()?;
        let instances = self.checked_instances("expr", false)?;
        crate::sample::check_walkers("--walkers", self.walkers, crate::sample::MAX_WALKERS)?;
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if let Some(s) = shard {
            s.check(instances, "instances per dimension")?;
        }
        let mut resolved = Resolved {
            name: "expr".to_string(),
            keys: Vec::new(),
            dims,
            instances,
            walkers: self.walkers,
            opt: rules::parse(&self.optimizer)?,
            init: Init::parse(&self.init)?,
            plan: self.walk.plan()?,
            theory: Theory::None,
            sphere: false,
            template: format!("{}n = N; {formula}", objective::expr::PREFIX),
            random: false,
            formula: Some(formula),
            widths: None,
            ns: Vec::new(),
            shard,
            descent: None,
        };
        resolved.check_dims()?;
        Ok(resolved)
    }

    /// A network swept over its width: each d of --dims sets every hidden layer of the given
    /// widths (D-H1-…-O) to d. A teacher left as `same` is the widths as given, for every d, so
    /// all widths learn from one teacher; the landscape seed of instance k does not depend on
    /// d, so instance k of every width trains on the same data. Data from a file has no
    /// disorder: one instance.
    fn resolve_mlp(&self, raw: &RawSpec, reg: &[objective::Entry]) -> Result<Resolved, SpecError> {
        let entry = reg
            .iter()
            .find(|e| e.name == "mlp")
            .ok_or_else(|| invalid("the registry has no mlp".into()))?;
        let mut keys = self.fixed_keys(raw, entry)?;
        // The spec's own values (defaults filled in) name the widths, data and teacher.
        let values = spec::resolve(raw, entry.params)?;
        let given = values.text("widths")?.to_string();
        let widths: Vec<usize> = given
            .split('-')
            .map(|w| w.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid(format!("'mlp': widths={given} is not D-H1-…-O")))?;
        if widths.len() < 3 {
            return Err(invalid(format!(
                "--objective mlp:widths={given} has no hidden layer for --dims to set; valid: \
                 D-H-O or deeper (e.g. widths=2-8-1: --dims sets H)"
            )));
        }
        keys.retain(|(k, _)| k != "widths" && k != "teacher");
        let data = values.text("data")?.to_string();
        if data == "teacher" {
            let teacher = match values.text("teacher")? {
                "same" => given.clone(),
                t => t.to_string(),
            };
            keys.push(("teacher".into(), teacher));
        }
        let random = ["teacher", "xor", "spirals", "blobs"].contains(&data.as_str());
        let dims = self.checked_dims()?;
        let instances = self.checked_instances("mlp with a data file", random)?;
        crate::sample::check_walkers(
            "--walkers",
            self.walkers,
            crate::sample::MAX_WALKERS / instances,
        )?;
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if let Some(s) = shard {
            s.check(instances, "instances per dimension")?;
        }
        let mut resolved = Resolved {
            name: "mlp".into(),
            keys,
            dims,
            instances,
            walkers: self.walkers,
            shard,
            opt: rules::parse(&self.optimizer)?,
            init: Init::parse(&self.init)?,
            plan: self.walk.plan()?,
            theory: Theory::None,
            sphere: false,
            template: String::new(),
            random,
            formula: None,
            widths: Some(widths.clone()),
            ns: Vec::new(),
            descent: None,
        };
        resolved.check_dims()?;
        let first = resolved.instance_spec(resolved.dims[0], 0);
        let values = spec::resolve(&RawSpec::parse(&first)?, entry.params)?;
        let mut t = template(entry, &values);
        let placeholder = hidden_widths(&widths, "<d>");
        t = t.replace(
            &format!(
                "widths={}",
                hidden_widths(&widths, &resolved.dims[0].to_string())
            ),
            &format!("widths={placeholder}"),
        );
        resolved.template = t;
        Ok(resolved)
    }

    /// The spec's values by key, every positional value named; n and seed are refused (the
    /// sweep sets them).
    fn fixed_keys(
        &self,
        raw: &RawSpec,
        entry: &objective::Entry,
    ) -> Result<Vec<(String, String)>, SpecError> {
        let mut keys = Vec::new();
        let mut next = 0;
        for (k, v) in &raw.args {
            let key = match k {
                Some(k) => k.clone(),
                None => {
                    let p = entry.params.get(next).ok_or_else(|| {
                        invalid(format!(
                            "'{}': too many positional values ('{v}')",
                            entry.name
                        ))
                    })?;
                    next += 1;
                    p.key.to_string()
                }
            };
            if key == "n" || key == "seed" {
                return Err(invalid(format!(
                    "--objective '{}' sets {key}={v}; a sweep sets {key} itself ({}); remove it \
                     from the spec",
                    self.objective,
                    if key == "n" {
                        "from --dims"
                    } else {
                        "instance seeds derive from --seed"
                    }
                )));
            }
            keys.push((key, v.clone()));
        }
        Ok(keys)
    }

    /// --instances: 1..=2^20 on a random landscape (default 10); 1 on a deterministic family,
    /// which has no disorder to average over.
    fn checked_instances(&self, name: &str, random: bool) -> Result<usize, SpecError> {
        match (self.instances, random) {
            (None, true) => Ok(DEFAULT_INSTANCES),
            (None | Some(1), false) => Ok(1),
            (Some(k), false) => Err(invalid(format!(
                "--instances {k}: '{name}' has no disorder (no seed), so every instance would be \
                 the same landscape; valid: 1 (or leave --instances out)"
            ))),
            (Some(k), true) if k == 0 || k > 1 << 20 => Err(SpecError::flag(
                "--instances",
                k,
                format!("1..={}", 1 << 20),
            )),
            (Some(k), true) => Ok(k),
        }
    }

    /// --dims sorted, neither empty nor listing a dimension twice.
    fn checked_dims(&self) -> Result<Vec<usize>, SpecError> {
        if self.dims.is_empty() {
            return Err(invalid(
                "--dims is empty; give dimensions, e.g. --dims 2,4,8".into(),
            ));
        }
        let mut dims = self.dims.clone();
        dims.sort_unstable();
        if let Some(w) = dims.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(format!("--dims lists {} twice", w[0])));
        }
        Ok(dims)
    }
}

/// The widths `D-H1-…-O` with every hidden width written as `d`.
fn hidden_widths(widths: &[usize], d: &str) -> String {
    let last = widths.len() - 1;
    widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 || i == last {
                w.to_string()
            } else {
                d.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// What --dims means for `mlp` (printed by `list`).
pub const MLP_DIMS: &str = "sweep --dims d sets every hidden layer of widths=D-H1-…-O to d \
    (2-8-8-1 at d = 4: 2-4-4-1); N is the parameter count; teacher=same stays the widths as \
    given, and instance k of every width trains on the same data";

/// The registry entry `raw` names, which must be a family with a dimension n (a random
/// landscape also has a seed).
fn dimension_entry<'a>(
    raw: &RawSpec,
    reg: &'a [objective::Entry],
) -> Result<&'a objective::Entry, SpecError> {
    let families: Vec<&str> = reg
        .iter()
        .filter(|e| e.params.iter().any(|p| p.key == "n"))
        .map(|e| e.name)
        .collect();
    let entry = reg
        .iter()
        .find(|e| e.name == raw.name)
        .ok_or_else(|| SpecError::UnknownName {
            what: "objective",
            name: raw.name.clone(),
            valid: families.join(", "),
        })?;
    if !families.contains(&entry.name) {
        return Err(invalid(format!(
            "sweep needs a family of landscapes with a dimension n; '{}' has a fixed dimension; \
             valid: {}, or mlp (--dims sets its hidden width)",
            entry.name,
            families.join(", ")
        )));
    }
    Ok(entry)
}

/// The objective's canonical spec with n and seed written as placeholders, for titles.
fn template(entry: &objective::Entry, values: &spec::Values) -> String {
    let canon = values.canonical(entry.params);
    let parts: Vec<String> = canon
        .split_once(':')
        .map_or("", |c| c.1)
        .split(',')
        .map(|kv| match kv.split_once('=') {
            Some(("n", _)) => "n=<N>".to_string(),
            Some(("seed", _)) => "seed=<instance seed>".to_string(),
            _ => kv.to_string(),
        })
        .collect();
    format!("{}:{}", entry.name, parts.join(","))
}

impl Command for SweepSpec {
    const NAME: &'static str = "sweep";
    type Resolved = Resolved;

    fn resolve(&self) -> Result<Resolved, SpecError> {
        SweepSpec::resolve(self)
    }
    fn objective(&self) -> &str {
        &self.objective
    }
    fn seed(&self) -> u64 {
        self.walk.seed
    }
    fn optimizers<'a>(&self, r: &'a Resolved) -> Vec<&'a Optimizer> {
        let mut all = vec![&r.opt];
        all.extend(r.descent.as_ref().map(|d| &d.opt));
        all
    }
    /// The first instance of every dimension (the others share its constants and sizes).
    fn memory(&self, r: &Resolved) -> Need {
        Need {
            what: format!(
                "sweep --instances {} x --walkers {} at N = {}",
                r.instances,
                r.walkers,
                r.dims.last().copied().unwrap_or(0)
            ),
            estimate: r.memory(),
            valid: "fewer --instances or --walkers, or the largest dimensions in a sweep of \
                    their own"
                .into(),
        }
    }
    fn check(&self, r: &Resolved, backend: &Backend) -> Result<(), SpecError> {
        r.dims.iter().try_for_each(|&n| {
            let obj = r.instance(n, 0)?;
            if let Some(d) = &r.descent {
                backend.check(obj.as_ref(), &d.opt)?;
            }
            backend.check(obj.as_ref(), &r.opt)
        })
    }
    fn describe(&self, r: &Resolved) -> String {
        // For mlp --dims are hidden widths d, and N is the parameter count at each.
        let over = match r.widths {
            Some(_) => format!("hidden width d = {:?} (N = {:?})", r.dims, r.ns),
            None => format!("N = {:?}", r.dims),
        };
        let after = r.descent.as_ref().map_or(String::new(), |d| {
            format!(" after {} steps of {}", d.steps, d.opt.spec())
        });
        format!(
            "{} over {over}, {} instances x {} walkers of {}{after}",
            r.template,
            r.instances,
            r.walkers,
            r.opt.spec()
        )
    }
    fn work(&self, r: &Resolved) -> u64 {
        r.total_steps()
    }
    fn run(&self, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
        run(self, r, ctx)
    }
}

/// Per-walker hyperparameters of `instances` blocks of `walkers` walkers: a range spreads over
/// the walkers of each instance alike (walker j of every instance gets the same value).
pub fn instance_hyper(opt: &Optimizer, walkers: usize, instances: usize) -> Hyper {
    let one = opt.hyper_rows(walkers);
    Hyper {
        rows: one.rows.iter().map(|row| row.repeat(instances)).collect(),
    }
}

impl Resolved {
    /// Every dimension's first instance: the spec's values, each N, and --init must fit.
    fn check_dims(&mut self) -> Result<(), SpecError> {
        self.ns.clear();
        for &n in &self.dims.clone() {
            let obj = self
                .instance(n, 0)
                .map_err(|e| invalid(format!("--dims {n}: {e}")))?;
            critical::check_dim(
                obj.as_ref(),
                "valid: smaller --dims (every instance is catalogued)",
            )
            .map_err(|e| invalid(format!("--dims {n}: {e}")))?;
            self.ns.push(obj.dim());
            self.init.check(obj.as_ref())?;
            self.opt
                .check_objective(obj.as_ref())
                .map_err(|e| invalid(format!("--dims {n}: {e}")))?;
            self.sphere = obj.sphere();
        }
        Ok(())
    }

    /// The objective spec of instance k at dimension n.
    pub fn instance_spec(&self, n: usize, k: usize) -> String {
        if let Some(f) = &self.formula {
            let mut f = f.clone();
            f.n = Some(n);
            return format!("{}{f}", objective::expr::PREFIX);
        }
        let mut parts: Vec<String> = self.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match &self.widths {
            Some(w) => parts.push(format!("widths={}", hidden_widths(w, &n.to_string()))),
            None => parts.push(format!("n={n}")),
        }
        if self.random {
            parts.push(format!("seed={}", self.seed_of(n, k)));
        }
        format!("{}:{}", self.name, parts.join(","))
    }

    /// The landscape seed of instance k at dimension n ([`instance_seed`]; for mlp the same
    /// for every width: `instance_seed(seed, 0, k)`).
    pub fn seed_of(&self, n: usize, k: usize) -> u64 {
        let key = if self.widths.is_some() { 0 } else { n };
        instance_seed(self.plan.seed, key, k)
    }

    /// The objective's dimension N at entry `d` of --dims.
    pub fn n_of(&self, d: usize) -> usize {
        self.dims
            .iter()
            .position(|&x| x == d)
            .and_then(|i| self.ns.get(i).copied())
            .unwrap_or(d)
    }

    pub fn instance(&self, n: usize, k: usize) -> Result<Box<dyn Objective>, SpecError> {
        objective::parse(&self.instance_spec(n, k))
    }

    /// Walker-steps of the whole sweep at most (for a progress bar).
    pub fn total_steps(&self) -> u64 {
        (self.dims.len() * self.instances * self.walkers) as u64 * self.steps_per_walker()
    }

    /// Walker-steps of one walker when it runs to its end: the descent's and the finder's.
    pub fn steps_per_walker(&self) -> u64 {
        self.descent.as_ref().map_or(0, |d| u64::from(d.steps) + 1)
            + u64::from(self.plan.max_steps)
            + 1
    }
}

/// What a sweep's walks gather: one row per distinct critical point and per instance, the
/// time spent walking and the walks' precision.
struct Gathered {
    points: Vec<PointRow>,
    insts: Vec<InstanceRow>,
    /// The symmetry check of each instance of an odd landscape, with its dimension.
    mirrors: Vec<(usize, MirrorCheck)>,
    seconds_walk: f64,
    precision: &'static str,
    /// Walkers of an f32 walk catalogued from the f32 resolution floor (`critical::floor`),
    /// over all instances, and each such instance's median floor.
    at_floor: usize,
    floors: Vec<f64>,
    /// Each dimension's descent walks, when the sweep has a descent.
    descents: Vec<(usize, DescentCounts)>,
    /// A shard's end states of the dimension being walked (catalogued by `merge`, not here).
    shard: Option<ShardEnds>,
}

/// The end positions and statuses of a shard's instances of one dimension, instance after
/// instance, W walkers each.
#[derive(Default)]
struct ShardEnds {
    x: Vec<f64>,
    status: Vec<Status>,
}

/// Runs the sweep and writes its files; progress counts walker-steps.
pub fn run(_spec: &SweepSpec, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
    let mut g = Gathered::new(0.0);
    let mut timings = serde_json::Map::new();
    let mut dispatches = serde_json::Map::new();
    let mut walkers = Csv::new("dim,instance,walker,status");
    for (d, &n) in r.dims.iter().enumerate() {
        let t_dim = Instant::now();
        g.shard = r.shard.map(|_| ShardEnds::default());
        let groups = walk_dimension(r, d, n, ctx, &mut g)?;
        timings.insert(n.to_string(), t_dim.elapsed().as_secs_f64().into());
        dispatches.insert(n.to_string(), groups.into());
        if let (Some(shard), Some(ends)) = (r.shard, g.shard.take()) {
            write_shard_dimension(ctx.folder, r, shard, n, &ends, g.precision, &mut walkers)?;
        }
    }
    if let Some(shard) = r.shard {
        ctx.folder.write_csv("walkers.csv", &walkers)?;
        return Ok(shard_report(r, shard, &g, timings, dispatches));
    }
    finish(r, g, timings, dispatches, ctx)
}

/// A shard's end states of dimension `n`: `end_states_N.npy` (its instances' walkers, instance
/// after instance, in the walk's precision) and their rows of walkers.csv
/// (dim,instance,walker,status).
fn write_shard_dimension(
    folder: &run::RunFolder,
    r: &Resolved,
    shard: Shard,
    n: usize,
    ends: &ShardEnds,
    precision: &str,
    walkers: &mut Csv,
) -> anyhow::Result<()> {
    let mine = shard.range(r.instances);
    let count = mine.len() * r.walkers;
    let dim = r.n_of(n);
    folder.write_positions(
        &format!("end_states_{n}.npy"),
        count,
        dim,
        &ends.x,
        precision,
    )?;
    for (i, st) in ends.status.iter().enumerate() {
        let (k, j) = (mine.start + i / r.walkers, i % r.walkers);
        walkers.row(&[
            n.to_string(),
            k.to_string(),
            j.to_string(),
            st.name().to_string(),
        ]);
    }
    Ok(())
}

/// The report of a shard: its instances, walk time, and what to do next.
fn shard_report(
    r: &Resolved,
    shard: Shard,
    g: &Gathered,
    timings: serde_json::Map<String, serde_json::Value>,
    dispatches: serde_json::Map<String, serde_json::Value>,
) -> Report {
    let mine = shard.range(r.instances);
    let results = serde_json::json!({
        "shard": {"index": shard.index, "count": shard.count, "walkers": [mine.start, mine.end], "unit": "instances of every dimension"},
        "dispatches_per_dim": dispatches,
        "timings_per_dim_s": timings,
    });
    let mut results = results.as_object().cloned().unwrap_or_default();
    if let Some(d) = &r.descent {
        results.insert("descent".into(), descent_json(d, &g.descents));
    }
    Report {
        resolved: resolved_of(r),
        results,
        precision: g.precision,
        summary: vec![format!(
            "shard {} of instances {}..{} of every dimension (walk {:.3} s): join the {} shards with `saddlescope merge --out DIR SHARD_DIR...`",
            shard.text(),
            mine.start,
            mine.end,
            g.seconds_walk,
            shard.count
        )],
    }
}

/// The manifest's `descent` of a sweep: the descent's optimizer and steps, and how its walks
/// ended per dimension.
fn descent_json(d: &Descent, per_dim: &[(usize, DescentCounts)]) -> serde_json::Value {
    let dims: serde_json::Map<String, serde_json::Value> = per_dim
        .iter()
        .map(|(n, c)| (n.to_string(), serde_json::json!(c)))
        .collect();
    serde_json::json!({"optimizer": d.opt.spec(), "steps": d.steps, "per_dim": dims})
}

/// One summary line per dimension: how its descent walks ended.
fn descent_lines(d: &Descent, opt: &Optimizer, per_dim: &[(usize, DescentCounts)]) -> Vec<String> {
    per_dim
        .iter()
        .map(|(n, c)| {
            format!(
                "N = {n:>4}: descent before {}: {} steps of {}  converged: {}  max_steps: {}  \
                 diverged: {}  ({:.3} s; the finder's walkers start where it ended)",
                opt.rule.name,
                d.steps,
                d.opt.spec(),
                c.converged,
                c.max_steps,
                c.diverged,
                c.seconds
            )
        })
        .collect()
}

/// The manifest's `resolved` of a sweep.
fn resolved_of(r: &Resolved) -> run::Resolved {
    let rest = serde_json::json!({
        "objective_example": r.instance_spec(r.dims[0], 0),
        "optimizer": r.opt.spec(),
        "dims": r.dims,
        "instances": r.instances,
        "walkers_per_instance": r.walkers,
        "init": r.init,
        "plan": r.plan,
        "theory": r.theory,
        "descent": r.descent.as_ref().map(|d| serde_json::json!({"optimizer": d.opt.spec(), "steps": d.steps})),
    });
    run::Resolved {
        objective: Some(r.template.clone()),
        dim: None,
        sphere: r.sphere,
        rest: rest.as_object().cloned().unwrap_or_default(),
    }
}

/// Writes a whole sweep's files from its catalogued instances (one run, or merged shards).
fn finish(
    r: &Resolved,
    g: Gathered,
    timings: serde_json::Map<String, serde_json::Value>,
    dispatches: serde_json::Map<String, serde_json::Value>,
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let stats: Vec<DimStats> = r
        .dims
        .iter()
        .map(|&n| {
            let h = hessian_dim(r.n_of(n), r.sphere);
            tables::dim_stats(n, r.n_of(n), h, &g.insts, &g.points)
        })
        .collect();
    let folder = ctx.folder;
    tables::write_points(&folder.join("points.csv"), &g.points)?;
    tables::write_instances(&folder.join("instances.csv"), &g.insts)?;
    tables::write_by_index(&folder.join("by_index.csv"), &stats)?;
    tables::write_sweep(&folder.join("sweep.csv"), &stats)?;
    folder.wrote(&["sweep.csv", "by_index.csv", "points.csv", "instances.csv"].map(String::from));
    let loss_fits = write_loss_fits(folder, &stats, &g.points, r.sphere)?;
    let info = FigureInfo {
        title: figure_title(&r.template, r.instances, r.walkers),
        theory: r.theory,
        sphere: r.sphere,
    };
    let figures = ctx.timings.time("figures", || draw(folder.path(), &info))?;
    folder.wrote(&figures);
    let seeds = if r.random {
        "seed of instance k at dimension N: low 53 bits of Philox4x32-10(counter = (N, k, 0, 0x53574550), key = --seed), words 0 (low) and 1; listed in instances.csv"
    } else {
        "none: a deterministic family, one instance per N (instances.csv lists seed 0)"
    };
    let results = serde_json::json!({
        "instance_seeds": seeds,
        "walker_ids": "instance k walks walkers k*W .. (k+1)*W - 1 (starts and noise keyed by --seed and these ids)",
        "dispatches_per_dim": dispatches,
        "timings_per_dim_s": timings,
        "sweeps": r.opt.values.sweeps,
        "figures": figures,
        "coverage": coverage_json(&stats),
        "index_vs_loss": loss_fits,
    });
    let mut results = results.as_object().cloned().unwrap_or_default();
    let symmetry = symmetry_per_dim(&r.dims, &g.mirrors);
    if !symmetry.is_empty() {
        results.insert(
            "symmetry".into(),
            symmetry
                .iter()
                .map(|(n, m, balanced)| {
                    let mut v = m.to_json();
                    v["instances_balanced"] = (*balanced).into();
                    (n.to_string(), v)
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
    }
    results.insert("f32_floor_walkers".into(), g.at_floor.into());
    if let Some(d) = &r.descent {
        results.insert("descent".into(), descent_json(d, &g.descents));
    }
    let mut summary = summary_lines(&stats, g.seconds_walk);
    if let Some(d) = &r.descent {
        summary.splice(1..1, descent_lines(d, &r.opt, &g.descents));
    }
    let mut floors = g.floors.clone();
    floors.sort_by(f64::total_cmp);
    let at_floor = critical::floor::AtFloor {
        walkers: Vec::new(),
        count: g.at_floor,
        median_floor: floors.get(floors.len() / 2).copied(),
    };
    summary.extend(at_floor.note());
    for s in &stats {
        let pts: Vec<crate::critical::index_loss::LossPoint> = g
            .points
            .iter()
            .filter(|p| p.dim == s.dim)
            .map(|p| crate::critical::index_loss::LossPoint {
                f: p.f,
                index: p.index,
                n: hessian_dim(p.n, r.sphere),
                kind: crate::sample::kind_of(&p.kind),
            })
            .collect();
        summary.push(crate::critical::index_loss::summary_line(
            &format!("dim {}: index against loss", s.dim),
            &crate::critical::index_loss::fit(&pts),
        ));
    }
    summary.extend(symmetry.iter().map(|(n, m, balanced)| {
        format!(
            "N = {n:>4}: {} ({balanced} of {} instances balanced)",
            m.summary_line(),
            r.instances
        )
    }));
    Ok(Report {
        resolved: resolved_of(r),
        results,
        precision: g.precision,
        summary,
    })
}

/// `saddlescope merge` of the shard folders of one sweep (checked and in shard order): every
/// dimension's instances are catalogued from the shards' end states, in instance order, and the
/// sweep's tables and figures written as one run's are, into `out`.
pub fn merge(
    out: &Path,
    shards: &[run::merge::ShardFolder],
    inv: &run::Invocation,
) -> anyhow::Result<run::Finished> {
    let mut spec: SweepSpec = run::merge::shared_spec(shards)?;
    spec.shard = None;
    let r = spec.resolve()?;
    spec.memory(&r).check()?;
    let folder = run::RunFolder::create(Some(out), SweepSpec::NAME, &spec.objective)?;
    let backend = Backend::cpu();
    let mut ctx = Ctx::new(&backend, &folder, &run::Silent);
    let seconds = run::merge::walk_seconds(shards);
    ctx.timings.add("walk", seconds);
    let done = gather_shards(&r, shards, seconds, &mut ctx).and_then(|g| {
        let timings = serde_json::Map::new();
        let dispatches = serde_json::Map::new();
        finish(&r, g, timings, dispatches, &mut ctx)
    });
    let done = done;
    run::merge::complete(&spec, &r, ctx, done, shards, &folder, inv)
}

/// Every instance of every dimension catalogued from the shards' end_states_N.npy and
/// walkers.csv, in the order one run catalogues them.
fn gather_shards(
    r: &Resolved,
    shards: &[run::merge::ShardFolder],
    seconds: f64,
    ctx: &mut Ctx,
) -> anyhow::Result<Gathered> {
    let mut g = Gathered::new(seconds);
    // The shards' descents, summed per dimension.
    if r.descent.is_some() {
        for &n in &r.dims {
            let mut total = DescentCounts::default();
            for s in shards {
                let c = &s
                    .manifest
                    .results
                    .get("descent")
                    .cloned()
                    .unwrap_or_default()["per_dim"][n.to_string()];
                total.join(&serde_json::from_value(c.clone()).unwrap_or_default());
            }
            g.descents.push((n, total));
        }
    }
    let names: Vec<&str> = (0..4).map(|c| Status::from_code(c).name()).collect();
    let tables: Vec<crate::table::Table> = shards
        .iter()
        .map(|s| {
            crate::table::Table::read(
                &s.dir,
                "walkers.csv",
                &["dim", "instance", "walker", "status"],
            )
        })
        .collect::<Result<_, _>>()?;
    let mut rows = vec![0usize; shards.len()];
    for &n in &r.dims {
        for (i, s) in shards.iter().enumerate() {
            let mine = s.shard.range(r.instances);
            if s.walkers != mine {
                return Err(SpecError::folder(
                    &s.dir,
                    format!(
                        "shard {} holds instances {:?}; of {} instances it must hold {mine:?}",
                        s.shard.text(),
                        s.walkers,
                        r.instances
                    ),
                )
                .into());
            }
            let (x, precision) = run::merge::read_npy_positions(
                &s.dir,
                &format!("end_states_{n}.npy"),
                mine.len() * r.walkers,
                r.n_of(n),
            )?;
            if i > 0 && precision != g.precision {
                return Err(SpecError::folder(
                    &s.dir,
                    "its end states are in another precision than the other shards'",
                )
                .into());
            }
            g.precision = precision;
            let t = &tables[i];
            for k in mine.clone() {
                let mut status = Vec::with_capacity(r.walkers);
                for j in 0..r.walkers {
                    let row = rows[i];
                    if row >= t.len() {
                        return Err(t
                            .bad(row, "walkers.csv ends before the shard's last walker")
                            .into());
                    }
                    if t.usize(row, "dim")? != n
                        || t.usize(row, "instance")? != k
                        || t.usize(row, "walker")? != j
                    {
                        return Err(t
                            .bad(
                                row,
                                format!("where dim {n}, instance {k}, walker {j} belongs"),
                            )
                            .into());
                    }
                    let st = t.choice(row, "status", &names)?;
                    status.push(
                        (0..4)
                            .map(Status::from_code)
                            .find(|c| c.name() == st)
                            .unwrap_or(Status::Running),
                    );
                    rows[i] += 1;
                }
                let obj = r.instance(n, k)?;
                let at = (k - mine.start) * r.walkers * r.n_of(n);
                let xs = &x[at..at + r.walkers * r.n_of(n)];
                g.add_instance(r, obj.as_ref(), (n, k), xs, &status, &mut ctx.timings)?;
            }
        }
    }
    Ok(g)
}

/// The manifest's `coverage`: per dimension, the found counts and the estimate per instance,
/// overall and per index, and how they were combined.
fn coverage_json(stats: &[DimStats]) -> serde_json::Value {
    let one = |c: &critical::coverage::MeanCoverage| {
        serde_json::json!({
            "found": c.found,
            "found_once": c.found_once,
            "found_twice": c.found_twice,
            "found_per_instance": c.found_per_instance(),
            "estimated": c.estimated,
            "estimated_se": c.estimated_se,
            "estimated_lo": c.estimated_lo,
            "estimated_hi": c.estimated_hi,
        })
    };
    let dims: serde_json::Map<String, serde_json::Value> = stats
        .iter()
        .map(|s| {
            let mut v = one(&s.coverage);
            v["mostly_found_once"] = s.coverage.mostly_found_once().into();
            v["by_index"] = s
                .coverage_by_index
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut e = one(c);
                    e["index"] = i.into();
                    e
                })
                .collect::<Vec<_>>()
                .into();
            (s.dim.to_string(), v)
        })
        .collect();
    serde_json::json!({
        "estimator": "bias-corrected Chao1 (nondegenerate points; each index on its own), per dimension on the frequency counts pooled over instances; assumptions in docs/coverage.md",
        "aggregation": "found, found_once, found_twice: summed over instances; estimated: points per instance, (T0 + A T1 (T1-1) / (2 (T2+1))) / K with T0, T1, T2 the sums over the K instances of found, found once and found twice and A the mean of (n_k-1)/n_k; estimated_lo/hi: estimated ± t(K-1)·se, se by the delta method across instances (disorder and walker sampling together; at least the pooled sampling error), never below the mean found per instance; one instance: its own log-normal interval; each instance's own estimate is in instances.csv",
        "per_dim": dims,
    })
}

/// The symmetry checks of an odd landscape summed per dimension, with the number of instances
/// whose own check balanced.
fn symmetry_per_dim(
    dims: &[usize],
    mirrors: &[(usize, MirrorCheck)],
) -> Vec<(usize, MirrorCheck, usize)> {
    dims.iter()
        .filter_map(|&n| {
            let of_n: Vec<&MirrorCheck> = mirrors
                .iter()
                .filter(|(d, _)| *d == n)
                .map(|(_, m)| m)
                .collect();
            let total = MirrorCheck::total(&of_n)?;
            Some((n, total, of_n.iter().filter(|m| m.balanced()).count()))
        })
        .collect()
}

/// Walks every instance of dimension `n` (the sweep's `d`-th), as many per dispatch as the
/// adapter's parameter binding holds, and catalogues each instance's converged walkers; returns
/// the number of dispatches. A dimension whose walk an interrupted run completed is not walked
/// again: its end states were kept in the run's checkpoints (`run::resume`), and they are
/// catalogued as the walk's would be.
fn walk_dimension(
    r: &Resolved,
    d: usize,
    n: usize,
    ctx: &mut Ctx,
    g: &mut Gathered,
) -> anyhow::Result<usize> {
    let (kn, w) = (r.instances, r.walkers);
    let mine = r.shard.map_or(0..kn, |s| s.range(kn));
    let objs: Vec<Box<dyn Objective>> = mine
        .clone()
        .into_par_iter()
        .map(|k| r.instance(n, k))
        .collect::<Result<_, _>>()?;
    // The walkers' dimension: n, or for mlp (n its hidden width) the parameter count.
    let dim = objs[0].dim();
    let key = format!("N{n}");
    let kept = ctx
        .checkpoints
        .and_then(|c| c.kept_ends(&key, mine.len() * w, dim));
    let (ends, groups, descent) = match kept {
        Some((ends, meta)) => {
            let seconds = meta["seconds_walk"].as_f64().unwrap_or(0.0);
            g.seconds_walk += seconds;
            ctx.timings.add("walk", seconds);
            let groups = meta["dispatches"].as_u64().unwrap_or(0) as usize;
            let descent = serde_json::from_value(meta["descent"].clone()).unwrap_or_default();
            (ends, groups, descent)
        }
        None => {
            let t_walk = Instant::now();
            let (ends, walks, descent) = walk_instances(r, d, n, &objs, ctx)?;
            let seconds = t_walk.elapsed().as_secs_f64();
            g.seconds_walk += seconds;
            if let Some(c) = ctx.checkpoints {
                let meta = serde_json::json!({
                    "seconds_walk": seconds,
                    "dispatches": walks.len(),
                    "descent": descent,
                });
                if let Err(e) = c.keep_ends(&key, &ends, meta, &walks) {
                    log::warn!("could not keep the end states of N = {n} for a resume: {e}");
                }
            }
            (ends, walks.len(), descent)
        }
    };
    if r.descent.is_some() {
        g.descents.push((n, descent));
    }
    g.precision = ends.precision;
    if let Some(shard) = g.shard.as_mut() {
        shard.x.extend_from_slice(&ends.x);
        shard.status.extend_from_slice(&ends.status);
        return Ok(groups);
    }
    for (j, obj) in objs.iter().enumerate() {
        let range = j * w..(j + 1) * w;
        let x = &ends.x[range.start * dim..range.end * dim];
        g.add_instance(
            r,
            obj.as_ref(),
            (n, mine.start + j),
            x,
            &ends.status[range],
            &mut ctx.timings,
        )?;
    }
    Ok(groups)
}

/// Walks the instances `objs` of dimension `n` (this run's slice of every dimension's
/// instances), as many per dispatch as the adapter's parameter binding holds: their end
/// states, instance after instance, and the checkpoint keys of the walks.
fn walk_instances(
    r: &Resolved,
    d: usize,
    n: usize,
    objs: &[Box<dyn Objective>],
    ctx: &mut Ctx,
) -> anyhow::Result<(crate::walk::EndStates, Vec<String>, DescentCounts)> {
    let mut descents = DescentCounts::default();
    let (kn, w) = (r.instances, r.walkers);
    let mine = r.shard.map_or(0..kn, |s| s.range(kn));
    let per_dim_steps = (mine.len() * w) as u64 * r.steps_per_walker();
    // As many instances per dispatch as the adapter's parameter binding holds.
    let per_params = objs[0].params().len().max(1);
    let group = (ctx.backend.max_params() / per_params).clamp(1, mine.len());
    let base = d as u64 * per_dim_steps;
    let dim = objs[0].dim();
    let mut all = crate::walk::EndStates::new(0, dim);
    let mut keys = Vec::new();
    for k0 in mine.clone().step_by(group) {
        let k1 = (k0 + group).min(mine.end);
        let refs: Vec<&dyn Objective> = objs[k0 - mine.start..k1 - mine.start]
            .iter()
            .map(|o| o.as_ref())
            .collect();
        // Walker k·W + j of this dimension: its start and noise do not depend on grouping.
        let mut starts: Vec<f64> = Vec::with_capacity((k1 - k0) * w * dim);
        for (k, obj) in (k0..k1).zip(&refs) {
            starts.extend(r.init.starts(*obj, r.plan.seed, (k * w) as u32, w));
        }
        let plan = WalkPlan {
            first_walker: (k0 * w) as u32,
            ..r.plan.clone()
        };
        let hyper = instance_hyper(&r.opt, w, k1 - k0);
        let mut done = base + ((k0 - mine.start) * w) as u64 * r.steps_per_walker();
        if let Some(d) = &r.descent {
            let key = format!("N{n}-k{k0}-descent");
            let plan = WalkPlan {
                max_steps: d.steps,
                ..plan.clone()
            };
            let hyper = instance_hyper(&d.opt, w, k1 - k0);
            let t = Instant::now();
            let ends = ctx.walk_instances(&key, &refs, &d.opt, &plan, &starts, &hyper, done)?;
            let secs = t.elapsed().as_secs_f64();
            ctx.timings.add("descent", secs);
            keys.push(key);
            done += ((k1 - k0) * w) as u64 * (u64::from(d.steps) + 1);
            descents.add(&ends, secs);
            starts = ends.x;
        }
        let key = format!("N{n}-k{k0}");
        let t_walk = Instant::now();
        let ends = ctx.walk_instances(&key, &refs, &r.opt, &plan, &starts, &hyper, done)?;
        ctx.timings.add("walk", t_walk.elapsed().as_secs_f64());
        keys.push(key);
        all.precision = ends.precision;
        all.x.extend_from_slice(&ends.x);
        all.f.extend_from_slice(&ends.f);
        all.grad_norm.extend_from_slice(&ends.grad_norm);
        all.steps.extend_from_slice(&ends.steps);
        all.status.extend_from_slice(&ends.status);
        all.escape.extend_from_slice(&ends.escape);
    }
    Ok((all, keys, descents))
}

/// How a dimension's descent walks (`--descent`) ended: their status counts and seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct DescentCounts {
    converged: usize,
    max_steps: usize,
    diverged: usize,
    seconds: f64,
}

impl DescentCounts {
    fn add(&mut self, ends: &crate::walk::EndStates, seconds: f64) {
        let [(_, converged), (_, max_steps), (_, diverged)] = ends.counts();
        self.join(&DescentCounts {
            converged,
            max_steps,
            diverged,
            seconds,
        });
    }
    fn join(&mut self, other: &DescentCounts) {
        self.converged += other.converged;
        self.max_steps += other.max_steps;
        self.diverged += other.diverged;
        self.seconds += other.seconds;
    }
}

impl Gathered {
    fn new(seconds_walk: f64) -> Gathered {
        Gathered {
            points: Vec::new(),
            insts: Vec::new(),
            mirrors: Vec::new(),
            seconds_walk,
            precision: "f64",
            at_floor: 0,
            floors: Vec::new(),
            descents: Vec::new(),
            shard: None,
        }
    }

    /// Catalogues instance k of dimension n from its walkers' end states `x` (W x n) and
    /// statuses (only converged walkers count), and adds its rows.
    fn add_instance(
        &mut self,
        r: &Resolved,
        obj: &dyn Objective,
        (n, k): (usize, usize),
        x: &[f64],
        status: &[Status],
        timings: &mut run::Timings,
    ) -> anyhow::Result<()> {
        let at = critical::floor::at_floor(obj, x, status, self.precision);
        let eligible = at.eligible(status);
        self.at_floor += at.count;
        self.floors.extend(at.median_floor);
        let opts = CatalogueOptions::default();
        let (cat, secs) = critical::catalogue_timed(obj, x, &eligible, &opts)?;
        critical::files::add_timings(timings, &secs);
        if let Some(m) = MirrorCheck::for_objective(obj, &cat, opts.pos_tol) {
            self.mirrors.push((n, m));
        }
        for p in &cat.points {
            let hdim = p.n_neg + p.n_zero + p.n_pos;
            self.points.push(PointRow {
                dim: n,
                instance: k,
                f: p.f,
                index: p.index,
                index_fraction: p.index as f64 / hdim.max(1) as f64,
                n: obj.dim(),
                kind: p.kind.as_str().to_string(),
                walkers: p.walkers,
                x_norm2: p.x.iter().map(|v| v * v).sum(),
            });
        }
        self.insts.push(InstanceRow {
            dim: n,
            instance: k,
            // 0: a deterministic family has no landscape seed (the manifest says so).
            seed: if r.random { r.seed_of(n, k) } else { 0 },
            walkers: r.walkers,
            converged: status.iter().filter(|&&s| s == Status::Converged).count(),
            walkers_at_points: cat.points.iter().map(|p| p.walkers).sum(),
            points: cat.points.len(),
            coverage: cat.coverage().overall,
        });
        Ok(())
    }
}

/// One line per dimension: points, kinds, the fraction of minima and the mean index fraction.
fn summary_lines(stats: &[DimStats], seconds_walk: f64) -> Vec<String> {
    let mut lines = vec![format!("walk: {seconds_walk:.3} s")];
    for s in stats {
        // mlp: the swept width d and its parameter count N.
        let key = if s.n != s.dim {
            format!("d = {:>4} (N = {})", s.dim, s.n)
        } else {
            format!("N = {:>4}", s.dim)
        };
        let c = &s.coverage;
        let (lo, hi) = s.fraction_minima_ci.unwrap_or((f64::NAN, f64::NAN));
        // One instance (a deterministic family) has no spread across instances.
        let per_instance = if s.instances > 1 {
            format!(
                " ({:.2} ± {:.2} per instance)",
                s.points_per_instance.mean, s.points_per_instance.se
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "{key}: {:>6} points{per_instance}, minima {} saddles {} maxima {} degenerate {}, fraction of minima {:.4} [{:.4}, {:.4}], mean index fraction {:.3}",
            s.points,
            s.minima,
            s.saddles,
            s.maxima,
            s.degenerate,
            s.fraction_minima.mean,
            lo,
            hi,
            s.mean_index_fraction.mean
        ));
        lines.push(format!(
            "{key}: coverage (nondegenerate points, Chao1 over pooled instances, 95%): {:.2} \
             found per instance ({} of {} found once, {} twice) → estimated {:.2} [{:.2}, {:.2}] per instance",
            c.found_per_instance(),
            c.found_once,
            c.found,
            c.found_twice,
            c.estimated,
            c.estimated_lo,
            c.estimated_hi
        ));
        lines.extend(c.warning(&format!("{key}: ")));
    }
    lines
}

fn figure_title(template: &str, instances: usize, walkers: usize) -> String {
    format!("{template}   ({instances} instances × {walkers} walkers per N)")
}

/// The Hessian's dimension: N, or N − 1 on the sphere.
pub fn hessian_dim(n: usize, sphere: bool) -> usize {
    if sphere {
        n.saturating_sub(1)
    } else {
        n
    }
}

/// What the figures need besides the tables.
#[derive(Debug, Clone)]
pub struct FigureInfo {
    pub title: String,
    pub theory: Theory,
    pub sphere: bool,
}

/// The columns of sweep.csv that the figures read.
const SWEEP_COLUMNS: [&str; 13] = [
    "dim",
    "instances",
    "points",
    "fraction_minima",
    "fraction_minima_lo",
    "fraction_minima_hi",
    "minima_per_instance",
    "minima_per_instance_se",
    "saddles_per_instance",
    "saddles_per_instance_se",
    "points_per_instance",
    "points_per_instance_se",
    "walkers",
];

/// The objective's dimension N at each of `dims`, from index_loss_fit.csv (`dim,n`, one row
/// per dimension in order; for mlp N is the parameter count at hidden width `dim`); a folder
/// written before that table existed has N = dim.
fn dimension_sizes(
    dir: &Path,
    dims: &[usize],
) -> Result<std::collections::BTreeMap<usize, usize>, SpecError> {
    if !dir.join("index_loss_fit.csv").exists() {
        return Ok(dims.iter().map(|&d| (d, d)).collect());
    }
    let t = tables::Table::read(dir, "index_loss_fit.csv", &["dim", "n"])?;
    t.expect_rows(dims.len(), "sweep.csv (one row per dimension)")?;
    let mut m = std::collections::BTreeMap::new();
    for (r, &d) in dims.iter().enumerate() {
        if t.usize(r, "dim")? != d {
            return Err(t.bad(
                r,
                format!("dim = {} where sweep.csv says {d}", t.str(r, "dim")?),
            ));
        }
        let n = t.usize(r, "n")?;
        if n == 0 {
            return Err(t.bad(r, "n = 0: an objective has at least one dimension"));
        }
        m.insert(d, n);
    }
    Ok(m)
}

/// Holds a sweep folder's tables to its manifest before they are drawn: one sweep.csv row per
/// dimension of `resolved.dims`, in order, with `resolved.instances` instances each; by_index.csv
/// and points.csv only of those dimensions, and as many points.csv rows as sweep.csv counts.
fn check_tables(dir: &Path, res: &serde_json::Value) -> Result<(), SpecError> {
    let dims: Vec<usize> = res["dims"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_u64().map(|d| d as usize))
                .collect()
        })
        .unwrap_or_default();
    if dims.is_empty() {
        return Err(SpecError::folder(dir, "manifest.json has no resolved.dims"));
    }
    let instances = crate::table::manifest_count(dir, &res["instances"], "resolved.instances")?;
    let t = tables::Table::read(dir, "sweep.csv", &SWEEP_COLUMNS)?;
    t.expect_rows(dims.len(), "manifest.json (resolved.dims)")?;
    let mut points = 0;
    for (r, &n) in dims.iter().enumerate() {
        if t.usize(r, "dim")? != n {
            return Err(t.bad(
                r,
                format!(
                    "dim = {} where manifest.json's dims say {n}",
                    t.str(r, "dim")?
                ),
            ));
        }
        if t.usize(r, "instances")? != instances {
            return Err(t.bad(
                r,
                format!(
                    "instances = {} where manifest.json says {instances}",
                    t.str(r, "instances")?
                ),
            ));
        }
        points += t.usize(r, "points")?;
    }
    let b = tables::Table::read(dir, "by_index.csv", &["dim", "index", "fraction"])?;
    for r in 0..b.len() {
        if !dims.contains(&b.usize(r, "dim")?) {
            return Err(b.bad(
                r,
                format!(
                    "dim = {} is not one of the sweep's dims {dims:?}",
                    b.str(r, "dim")?
                ),
            ));
        }
    }
    let p = tables::Table::read(dir, "points.csv", &tables::columns(tables::POINTS_REQUIRED))?;
    p.expect_rows(points, "sweep.csv (its points column, summed)")?;
    let sizes = dimension_sizes(dir, &dims)?;
    let n_of = |d: usize| sizes.get(&d).copied().unwrap_or(d);
    for (r, row) in tables::read_points(dir, &n_of)?.iter().enumerate() {
        if !dims.contains(&row.dim) || row.instance >= instances {
            return Err(p.bad(r, format!(
                "dim = {}, instance = {} is not a dimension and instance of the sweep (dims {dims:?}, {instances} instances)",
                row.dim, row.instance
            )));
        }
    }
    Ok(())
}

/// Draws every figure of a sweep folder from its tables (sweep.csv, by_index.csv, points.csv);
/// returns the file names written.
pub fn draw(dir: &Path, info: &FigureInfo) -> anyhow::Result<Vec<String>> {
    use crate::figure::sweep::{DimPoint, SweepData};
    let t = tables::Table::read(dir, "sweep.csv", &SWEEP_COLUMNS)?;
    let mut dims = Vec::new();
    let listed = (0..t.len())
        .map(|r| t.usize(r, "dim"))
        .collect::<Result<Vec<usize>, SpecError>>()?;
    let sizes = dimension_sizes(dir, &listed)?;
    let ns: Vec<usize> = listed.iter().map(|d| sizes[d]).collect();
    for r in 0..t.len() {
        let ms = |m: &str, s: &str| -> Result<(f64, f64), SpecError> {
            Ok((t.f64(r, m)?, t.f64(r, s)?))
        };
        dims.push(DimPoint {
            dim: t.usize(r, "dim")?,
            instances: t.usize(r, "instances")?,
            points: t.usize(r, "points")?,
            fraction_minima: t.fraction_or_missing(r, "fraction_minima")?,
            lo: t.f64(r, "fraction_minima_lo")?,
            hi: t.f64(r, "fraction_minima_hi")?,
            per_instance: [
                ms("minima_per_instance", "minima_per_instance_se")?,
                ms("saddles_per_instance", "saddles_per_instance_se")?,
                ms("points_per_instance", "points_per_instance_se")?,
            ],
            estimated: if t.has("points_estimated") {
                Some((
                    t.f64(r, "points_estimated")?,
                    t.f64(r, "points_estimated_lo")?,
                    t.f64(r, "points_estimated_hi")?,
                ))
            } else {
                None
            },
        });
    }
    let b = tables::Table::read(dir, "by_index.csv", &["dim", "index", "fraction"])?;
    let n_at = |d: usize| {
        dims.iter()
            .position(|p: &DimPoint| p.dim == d)
            .map_or(d, |i| ns[i])
    };
    let bars = (0..b.len())
        .map(|r| {
            let (dim, index) = (b.usize(r, "dim")?, b.usize(r, "index")?);
            if index > n_at(dim) {
                let bound = if n_at(dim) == dim {
                    format!("dim = {dim}")
                } else {
                    format!(
                        "N = {} (the objective's dimension at dim = {dim})",
                        n_at(dim)
                    )
                };
                return Err(b.bad(r, format!("index = {index} is more than {bound}")));
            }
            Ok((dim, index, b.fraction_or_missing(r, "fraction")?))
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    let points = tables::read_points(dir, &|d| sizes.get(&d).copied().unwrap_or(d))?;
    let theory = info.theory;
    let predict = move |n: usize, e: f64| theory.index_fraction(n, e).unwrap_or(f64::NAN);
    let threshold = match theory {
        Theory::Pspin { p } => {
            let p = f64::from(p);
            Some((
                -2.0 * ((p - 1.0) / p).sqrt(),
                "threshold −2√((p−1)/p): predicted minima lie below",
            ))
        }
        _ => None,
    };
    let data = SweepData {
        title: &info.title,
        hessian_dims: ns.iter().map(|&n| hessian_dim(n, info.sphere)).collect(),
        dims,
        bars,
        scatter: points
            .iter()
            .map(|p| (p.dim, theory.energy(p), p.index_fraction))
            .collect(),
        energy_label: theory.energy_label(),
        prediction: (theory != Theory::None).then_some((
            &predict as &dyn Fn(usize, f64) -> f64,
            "semicircle law (large N)",
        )),
        minima: info.sphere.then(|| {
            (
                points
                    .iter()
                    .filter(|p| p.kind == "minimum")
                    .map(|p| (p.dim, p.f / p.dim as f64))
                    .collect(),
                threshold,
            )
        }),
    };
    let mut figures = crate::figure::sweep::all(dir, &data)?;
    let groups = loss_groups(&data.dims, &ns, &points, info.sphere);
    crate::figure::index_loss::index_vs_loss(
        &dir.join("index_vs_loss"),
        &info.title,
        crate::critical::files::loss_label(&info.title),
        &groups,
    )?;
    figures.extend([
        "index_vs_loss.png".to_string(),
        "index_vs_loss.svg".to_string(),
    ]);
    Ok(figures)
}

/// One group per dimension for the index-against-loss figure and index_loss_fit.csv: its
/// points (index fraction over the Hessian's dimension) and the fit of each dimension alone.
fn loss_groups(
    dims: &[crate::figure::sweep::DimPoint],
    ns: &[usize],
    points: &[PointRow],
    sphere: bool,
) -> Vec<crate::figure::index_loss::LossGroup> {
    use crate::critical::index_loss::{fit, LossPoint};
    dims.iter()
        .zip(ns)
        .map(|(d, &n)| {
            let pts: Vec<LossPoint> = points
                .iter()
                .filter(|p| p.dim == d.dim)
                .map(|p| LossPoint {
                    f: p.f,
                    index: p.index,
                    n: hessian_dim(p.n, sphere),
                    kind: crate::sample::kind_of(&p.kind),
                })
                .collect();
            let label = if n == d.dim {
                format!("N = {n}")
            } else {
                format!("d = {} (N = {n})", d.dim)
            };
            crate::figure::index_loss::LossGroup {
                label,
                fit: fit(&pts),
                points: pts,
            }
        })
        .collect()
}

/// index_loss_fit.csv of a sweep: `dim` and the fit of each dimension's points
/// (`critical::index_loss::FIT_HEADER`).
fn write_loss_fits(
    folder: &run::RunFolder,
    stats: &[DimStats],
    points: &[PointRow],
    sphere: bool,
) -> anyhow::Result<serde_json::Value> {
    use crate::critical::index_loss as il;
    let mut csv = Csv::new(&format!("dim,{}", il::FIT_HEADER));
    let mut json = serde_json::Map::new();
    for s in stats {
        let pts: Vec<il::LossPoint> = points
            .iter()
            .filter(|p| p.dim == s.dim)
            .map(|p| il::LossPoint {
                f: p.f,
                index: p.index,
                n: hessian_dim(p.n, sphere),
                kind: crate::sample::kind_of(&p.kind),
            })
            .collect();
        let o = il::fit(&pts);
        let mut row = vec![s.dim.to_string()];
        row.extend(il::fit_fields(s.n, &o));
        csv.row(&row);
        json.insert(s.dim.to_string(), il::fit_json(&o));
    }
    folder.write_csv("index_loss_fit.csv", &csv)?;
    Ok(json.into())
}

/// `saddlescope plot DIR` for a sweep folder: redraws its figures from its tables.
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let bad = |what: String| SpecError::folder(dir, what);
    let m = Manifest::read_of(dir, "sweep")?.to_value();
    let res = &m["resolved"];
    check_tables(dir, res)?;
    let theory: Theory = serde_json::from_value(res["theory"].clone())
        .map_err(|e| bad(format!("manifest.json: resolved.theory: {e}")))?;
    let info = FigureInfo {
        title: figure_title(
            res["objective"].as_str().unwrap_or("sweep"),
            res["instances"].as_u64().unwrap_or(0) as usize,
            res["walkers_per_instance"].as_u64().unwrap_or(0) as usize,
        ),
        theory,
        sphere: res["sphere"].as_bool().unwrap_or(false),
    };
    draw(dir, &info)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(objective: &str, dims: &[usize]) -> SweepSpec {
        SweepSpec {
            objective: objective.into(),
            dims: dims.to_vec(),
            instances: Some(3),
            optimizer: "newton-mr".into(),
            descent: Default::default(),
            walkers: 8,
            init: "auto".into(),
            walk: WalkOptions {
                steps: 10,
                seed: 5,
                ..WalkOptions::default()
            },
            shard: None,
        }
    }

    #[test]
    fn instance_specs_and_seeds() {
        let r = spec("field:32,length=2", &[4, 2]).resolve();
        // A positional value fills n, which the sweep sets.
        assert!(r.err().unwrap().to_string().contains("sets n=32"));
        let r = spec("field:features=32,length=2", &[4, 2])
            .resolve()
            .unwrap();
        assert_eq!(r.dims, vec![2, 4]);
        let s = r.instance_spec(4, 1);
        assert!(s.starts_with("field:features=32,length=2,n=4,seed="), "{s}");
        assert_eq!(
            r.theory,
            Theory::Field {
                length: 2.0,
                mu: 0.1
            }
        );
        assert_eq!(
            r.template,
            "field:n=<N>,features=32,length=2,mu=0.1,seed=<instance seed>"
        );
        // Seeds: distinct over (n, k), independent of the other dimensions, below 2^53.
        let mut seen = std::collections::BTreeSet::new();
        for n in [2, 4, 8] {
            for k in 0..50 {
                let s = instance_seed(5, n, k);
                assert!(s < 1 << 53 && seen.insert(s));
            }
        }
        let other = spec("field:features=32,length=2", &[4, 16])
            .resolve()
            .unwrap();
        assert_eq!(other.instance_spec(4, 1), s);
        assert_ne!(instance_seed(6, 4, 1), instance_seed(5, 4, 1));
        let p = spec("pspin:3", &[2, 3]).resolve().unwrap();
        assert_eq!(p.theory, Theory::Pspin { p: 3 });
        assert!(p.sphere);
        // A deterministic family: one instance, no seed in its spec.
        let mut d = spec("double-well", &[3, 2]);
        d.instances = None;
        let d = d.resolve().unwrap();
        assert_eq!((d.instances, d.random), (1, false));
        assert_eq!(d.instance_spec(3, 0), "double-well:n=3");
        let mut f = spec("field", &[2]);
        f.instances = None;
        assert_eq!(f.resolve().unwrap().instances, DEFAULT_INSTANCES);
    }

    #[test]
    fn usage_errors_name_the_problem() {
        let e = |o: &str, d: &[usize]| spec(o, d).resolve().err().unwrap().to_string();
        assert!(e("pspin:p=3,n=8", &[2]).contains("sets n=8"));
        assert!(e("pspin:seed=3", &[2]).contains("sets seed=3"));
        assert!(e("himmelblau", &[2]).contains("fixed dimension"));
        assert!(e("nonesuch", &[2]).contains("double-well, rastrigin"));
        // A deterministic family has one instance.
        let m = e("rastrigin", &[2]);
        assert!(m.contains("no disorder") && m.contains("valid: 1"), "{m}");
        assert!(e("pspin", &[]).contains("--dims is empty"));
        assert!(e("pspin", &[4, 4]).contains("twice"));
        let m = e("pspin", &[1]);
        assert!(m.contains("--dims 1") && m.contains("n=1"), "{m}");
        assert!(e("field:mu=-1", &[2]).contains("mu"));
        let mut s = spec("pspin", &[2]);
        s.instances = Some(0);
        assert!(s
            .resolve()
            .err()
            .unwrap()
            .to_string()
            .contains("--instances"));
        s.instances = Some(2);
        s.init = "point:x=1;0".into();
        s.dims = vec![2, 3];
        assert!(s.resolve().err().unwrap().to_string().contains("N = 3"));
    }

    /// The two predictions at their landmarks: α = 1/2 at the spectrum's centre, 0 at and
    /// beyond the lower edge.
    #[test]
    fn predictions() {
        let p = Theory::Pspin { p: 3 };
        assert_eq!(p.index_fraction(10, 0.0), Some(0.5));
        let edge = -2.0 * (2.0f64 / 3.0).sqrt(); // u = −2√((p−1)/p)
        assert!(p.index_fraction(10, edge).unwrap() < 1e-12);
        assert!(p.index_fraction(10, -edge).unwrap() > 1.0 - 1e-12);
        let f = Theory::Field {
            length: 2.0,
            mu: 0.5,
        };
        assert_eq!(f.index_fraction(16, 2.0), Some(0.5)); // v = mu l²
        assert_eq!(f.index_fraction(16, 2.0 - 8.0), Some(0.0)); // v − mu l² = −2√N
        assert_eq!(Theory::None.index_fraction(3, 1.0), None);
    }
}
