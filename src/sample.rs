//! `saddlescope sample`: starting points -> walk -> end states, written to a run folder.

use std::path::Path;
use std::time::Instant;

use crate::backend::Backend;
use crate::critical::mirror::MirrorCheck;
use crate::critical::{self, Catalogue, CatalogueOptions};
use crate::objective::{self, Objective};
use crate::output::{self, Csv};
use crate::rules::{self, Optimizer};
use crate::run::memory::{Estimate, Need};
use crate::run::shard::Shard;
use crate::run::{self, Command, Ctx, Manifest, Report, RunFolder, WalkOptions};
use crate::spec::SpecError;
use crate::walk::init::Init;
use crate::walk::state::Status;
use crate::walk::{EndStates, WalkPlan};

/// Everything `sample` needs, as the user gave it (the command line's flags; the manifest's
/// `spec`).
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[command(allow_negative_numbers = true)]
pub struct SampleSpec {
    /// Objective spec, e.g. himmelblau, rastrigin:n=8, field:n=16,features=256,seed=3
    #[arg(long)]
    pub objective: String,
    /// Optimizer spec, e.g. gd:lr=0.01, adam:lr=1e-3, sgd:noise=0.1, gradnorm; the default,
    /// newton-mr, finds critical points of every index with no step size
    #[arg(long, default_value = DEFAULT_OPTIMIZER)]
    #[serde(default = "default_optimizer")]
    pub optimizer: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub descent: DescentOptions,
    #[arg(long, default_value_t = 4096)]
    pub walkers: usize,
    /// auto | uniform:lo=A,hi=B | normal:sigma=S[,center=a;b;..] | point:x=a;b;..
    #[arg(long, default_value = "auto")]
    pub init: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub walk: WalkOptions,
    /// Skip the critical-point catalogue (f64 polish, Hessian classification, clustering).
    #[arg(long)]
    #[serde(default)]
    pub no_critical: bool,
    /// Tolerances of the catalogue (defaults: [`CatalogueOptions::default`]).
    #[command(flatten)]
    #[serde(default)]
    pub tolerances: Tolerances,
    /// Walk only shard K of N of the walkers (K/N); `saddlescope merge` joins the N folders
    /// into the folder of one run.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// `sample`'s optimizer when none is given (as `sweep`'s).
pub const DEFAULT_OPTIMIZER: &str = "newton-mr";
/// Steps of a `--descent` given as an optimizer without `--descent-steps`.
pub const DEFAULT_DESCENT_STEPS: u32 = 1000;

/// `--descent` and `--descent-steps`: the walk before the optimizer's (`sample`'s and
/// `sweep`'s).
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct DescentOptions {
    /// Walk this optimizer first, then the --optimizer from where it ended: auto | none |
    /// OPTIMIZER. auto: the objective's own descent before a critical-point finder (newton-mr,
    /// gradnorm, newton) on landscapes that have one (mlp: adam:lr=0.001..0.03 for 1000
    /// steps), none elsewhere
    #[arg(long, default_value = "auto")]
    #[serde(default = "default_descent")]
    pub descent: String,
    /// Steps of the --descent walk (default: the objective's under auto, else 1000); its walkers
    /// stop early only when converged or diverged
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descent_steps: Option<u32>,
}

impl Default for DescentOptions {
    fn default() -> Self {
        DescentOptions {
            descent: default_descent(),
            descent_steps: None,
        }
    }
}

fn default_optimizer() -> String {
    DEFAULT_OPTIMIZER.into()
}

fn default_descent() -> String {
    "auto".into()
}

/// The rules that head for the nearest critical point of any index, before which
/// `--descent auto` runs the objective's descent.
const FINDERS: [&str; 3] = ["newton-mr", "gradnorm", "newton"];

/// A walk before the optimizer's: its optimizer and steps.
pub struct Descent {
    pub opt: Optimizer,
    pub steps: u32,
}

/// The catalogue's tolerances as flags; see [`CatalogueOptions`] for what each means and why
/// its default is what it is.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct Tolerances {
    /// Polish stops at |grad f| <= this times the gradient's rounding scale.
    #[arg(long, default_value_t = Tolerances::default().polish_tol)]
    pub polish_tol: f64,
    /// An eigenvalue with |lambda| <= this times max |lambda| counts as zero (-> degenerate).
    #[arg(long, default_value_t = Tolerances::default().zero_eig_tol)]
    pub zero_eig_tol: f64,
    /// Polished points closer than this times max(sqrt N, |x|) are one critical point.
    #[arg(long, default_value_t = Tolerances::default().cluster_tol)]
    pub cluster_tol: f64,
    /// Polish may move a walker at most this times max(sqrt N, |x|).
    #[arg(long, default_value_t = Tolerances::default().max_drift)]
    pub max_drift: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        let o = CatalogueOptions::default();
        Tolerances {
            polish_tol: o.polish.grad_tol,
            zero_eig_tol: o.classify.zero_tol,
            cluster_tol: o.pos_tol,
            max_drift: o.polish.max_drift,
        }
    }
}

impl Tolerances {
    /// Checks every tolerance (usage error naming the flag) and builds the options.
    pub fn options(&self) -> Result<CatalogueOptions, SpecError> {
        let check = |flag: &'static str, v: f64, hi: f64| {
            if v.is_finite() && v > 0.0 && v < hi {
                Ok(())
            } else {
                Err(SpecError::flag(flag, v, format!("0 < value < {hi}")))
            }
        };
        check("--polish-tol", self.polish_tol, 1.0)?;
        check("--zero-eig-tol", self.zero_eig_tol, 1.0)?;
        check("--cluster-tol", self.cluster_tol, 1.0)?;
        check("--max-drift", self.max_drift, f64::INFINITY)?;
        let mut o = CatalogueOptions::default();
        o.polish.grad_tol = self.polish_tol;
        o.classify.zero_tol = self.zero_eig_tol;
        o.pos_tol = self.cluster_tol;
        o.polish.max_drift = self.max_drift;
        Ok(o)
    }
}

/// The most walkers one run takes (walker ids are u32, and shards add to them).
pub const MAX_WALKERS: usize = u32::MAX as usize / 2;

/// Checks a walker count flag.
pub fn check_walkers(flag: &'static str, walkers: usize, most: usize) -> Result<(), SpecError> {
    if walkers == 0 || walkers > most {
        return Err(SpecError::flag(flag, walkers, format!("1..={most}")));
    }
    Ok(())
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub opt: Optimizer,
    pub init: Init,
    pub plan: WalkPlan,
    pub walkers: usize,
    pub catalogue: CatalogueOptions,
    /// The slice this run walks (None: all walkers).
    pub shard: Option<Shard>,
    /// The walk before the optimizer's (`--descent`), when there is one.
    pub descent: Option<Descent>,
}

impl DescentOptions {
    /// The checked `--descent` and `--descent-steps` before the walk of `opt` on `obj`: None
    /// when no descent runs.
    pub fn resolve(
        &self,
        obj: &dyn Objective,
        opt: &Optimizer,
    ) -> Result<Option<Descent>, SpecError> {
        let (descent, descent_steps) = (self.descent.as_str(), self.descent_steps);
        if let Some(k) = descent_steps {
            if k == 0 || k == u32::MAX {
                return Err(SpecError::flag(
                    "--descent-steps",
                    k,
                    format!("1..={}", u32::MAX - 1),
                ));
            }
        }
        let (text, steps) = match descent {
            "none" => {
                if descent_steps.is_some() {
                    return Err(SpecError::Spec {
                        context: "--descent-steps".into(),
                        problem: "there is no descent to take them (--descent none); valid: --descent auto or an \
                                  optimizer spec, or no --descent-steps"
                            .into(),
                    });
                }
                return Ok(None);
            }
            "auto" => match obj.finder_descent() {
                Some((text, steps)) if FINDERS.contains(&opt.rule.name) => {
                    (text, descent_steps.unwrap_or(steps))
                }
                _ if descent_steps.is_some() => {
                    return Err(SpecError::Spec {
                        context: "--descent-steps".into(),
                        problem: format!(
                            "--descent auto runs no descent before {} on this objective (only \
                             before {} on a landscape that has one, e.g. mlp); valid: \
                             --descent OPTIMIZER to name one, or no --descent-steps",
                            opt.rule.name,
                            FINDERS.join(", ")
                        ),
                    });
                }
                _ => return Ok(None),
            },
            text => (text, descent_steps.unwrap_or(DEFAULT_DESCENT_STEPS)),
        };
        let d = rules::parse(text).map_err(|e| SpecError::Spec {
            context: format!("--descent {text}"),
            problem: format!("{e} (valid: auto, none, or an optimizer spec)"),
        })?;
        d.check_objective(obj)?;
        Ok(Some(Descent { opt: d, steps }))
    }
}

impl Command for SampleSpec {
    const NAME: &'static str = "sample";
    type Resolved = Resolved;

    fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let opt = rules::parse(&self.optimizer)?;
        opt.check_objective(obj.as_ref())?;
        let init = Init::parse(&self.init)?;
        init.check(obj.as_ref())?;
        check_walkers("--walkers", self.walkers, MAX_WALKERS)?;
        let plan = self.walk.plan()?;
        let catalogue = self.tolerances.options()?;
        if !self.no_critical {
            critical::check_dim(
                obj.as_ref(),
                "valid: a smaller n, or --no-critical to write the end states only",
            )?;
        }
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if let Some(s) = shard {
            s.check(self.walkers, "walkers")?;
        }
        let descent = self.descent.resolve(obj.as_ref(), &opt)?;
        Ok(Resolved {
            obj,
            opt,
            init,
            plan,
            walkers: self.walkers,
            catalogue,
            shard,
            descent,
        })
    }
    fn objective(&self) -> &str {
        &self.objective
    }
    fn landscape<'a>(&self, r: &'a Resolved) -> Option<&'a dyn Objective> {
        Some(r.obj.as_ref())
    }
    fn seed(&self) -> u64 {
        self.walk.seed
    }
    fn optimizers<'a>(&self, r: &'a Resolved) -> Vec<&'a Optimizer> {
        let mut all = vec![&r.opt];
        all.extend(r.descent.as_ref().map(|d| &d.opt));
        all
    }
    fn memory(&self, r: &Resolved) -> Need {
        let w = r.shard.map_or(r.walkers, |s| s.range(r.walkers).len()) as u64;
        let n = r.obj.dim() as u64;
        let mut estimate = Estimate::new();
        // The two walks run one after the other: the larger of their states.
        let (slots, hyper) = r.descent.as_ref().map_or((0, 0), |d| {
            (d.opt.rule.slots() as u64, d.opt.hyper().len() as u64)
        });
        let slots = slots.max(r.opt.rule.slots() as u64);
        let hyper = hyper.max(r.opt.hyper().len() as u64);
        estimate.walkers(w, n, slots, hyper);
        if !self.no_critical && r.shard.is_none() {
            estimate.catalogue(w, n);
        }
        Need {
            what: format!("sample --walkers {} at N = {n}", r.walkers),
            estimate,
            valid: "fewer --walkers (several runs with other --seed values add up)".into(),
        }
    }
    fn check(&self, r: &Resolved, backend: &Backend) -> Result<(), SpecError> {
        if let Some(d) = &r.descent {
            backend.check(r.obj.as_ref(), &d.opt)?;
        }
        backend.check(r.obj.as_ref(), &r.opt)
    }
    fn describe(&self, r: &Resolved) -> String {
        let after = r.descent.as_ref().map_or(String::new(), |d| {
            format!(" after {} steps of {}", d.steps, d.opt.spec())
        });
        format!(
            "{} walkers of {}{after} on {} (N = {})",
            r.walkers,
            r.opt.spec(),
            r.obj.spec(),
            r.obj.dim()
        )
    }
    fn work(&self, r: &Resolved) -> u64 {
        descent_work(r) + r.walkers as u64 * (u64::from(r.plan.max_steps) + 1)
    }
    fn run(&self, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
        run(self, r, ctx)
    }
}

/// Walker-steps of the descent walk when every walker runs to its end (progress).
fn descent_work(r: &Resolved) -> u64 {
    r.descent
        .as_ref()
        .map_or(0, |d| r.walkers as u64 * (u64::from(d.steps) + 1))
}

/// Status counts of the end states, for manifests.
pub fn status_counts(ends: &EndStates) -> serde_json::Map<String, serde_json::Value> {
    ends.counts()
        .iter()
        .map(|(s, c)| (s.name().to_string(), (*c).into()))
        .collect()
}

/// The summary line of the end states.
pub fn status_line(ends: &EndStates, seconds_walk: f64) -> String {
    let counts = ends.counts();
    format!(
        "walkers: {}  converged: {}  max_steps: {}  diverged: {}  walk: {:.3} s",
        ends.len(),
        counts[0].1,
        counts[1].1,
        counts[2].1,
        seconds_walk
    )
}

/// A line saying what to change when no walker converged (the catalogue then holds only what
/// the polish could reach from where the walkers stopped).
fn no_convergence_hint(ends: &EndStates, r: &Resolved, starts: &[f64]) -> Option<String> {
    let [(_, converged), (_, max_steps), (_, diverged)] = ends.counts();
    if converged > 0 || ends.is_empty() {
        return None;
    }
    let rule = r.opt.rule;
    // A rule whose noise is on keeps moving: its gradient rarely meets the tolerance.
    let noise = rule
        .params
        .iter()
        .zip(r.opt.hyper())
        .find(|(p, v)| matches!(p.key, "noise" | "temperature" | "t0") && *v > 0.0)
        .map(|(p, _)| p.key);
    // The step a rule with an lr may take: below 2 / the largest curvature where the walkers
    // start (plain gradient descent oscillates above it, and diverges where it grows).
    let lr_value = lr_of(&r.opt);
    // Measured once (40 power iterations of H v at spread starts), only when there is an lr
    // to advise on.
    let (k, curvature) = match lr_value {
        Some(_) => spread_curvature(r.obj.as_ref(), starts),
        None => (0, None),
    };
    let lr_advice = match (lr_value, curvature) {
        (Some(lr), Some(c)) if c > 0.0 && lr > 1.0 / c => format!(
            "lr = {lr} is above 1/curvature = {:.1e} where the walkers start (the largest \
             Hessian eigenvalue at {k} of the starts is {c:.2e}; a step above \
             2/curvature oscillates): try lr={:.1e}, or clip=; else ",
            1.0 / c,
            0.5 / c
        ),
        (Some(lr), Some(c)) if c > 0.0 => format!(
            "lr = {lr} is below 1/curvature = {:.1e} where the walkers start, so the walk is \
             slow there rather than unstable; ",
            1.0 / c
        ),
        (Some(_), _) => {
            "try a smaller lr (a step above 2/curvature oscillates), or clip=; else ".to_string()
        }
        (None, _) => String::new(),
    };
    let why = if let Some(key) = noise.filter(|_| diverged < max_steps) {
        format!(
            "no walker reached |grad| <= --grad-tol {}: {} moves by its {key} at every step, so \
             its gradient rarely gets that small, and the catalogue holds converged walkers \
             only; to classify where its walkers end, run it as the stage before a finder \
             (--descent '{}' --optimizer newton-mr), or lower its {key}",
            r.plan.grad_tol,
            rule.name,
            r.opt.spec()
        )
    } else if diverged >= max_steps {
        let unbounded = "the landscape falls without bound along their way (descent then runs \
                         off whatever the step: saddle, monkey-saddle)";
        let cause = match (lr_value, curvature) {
            (Some(lr), Some(c)) if c > 0.0 && lr <= 1.0 / c => format!(
                "lr = {lr} is below 1/curvature = {:.1e} where the walkers start, so most likely \
                 {unbounded}, or its curvature grows past 1/lr away from the starts",
                1.0 / c
            ),
            _ => format!(
                "the steps are too large for this landscape ({}) or {unbounded}",
                lr_advice.trim_end_matches("; else ").trim_end_matches("; ")
            ),
        };
        format!(
            "most walkers diverged (|x_i| beyond --bound, or f not finite): {cause}; \
             --optimizer newton-mr looks for the critical points instead"
        )
    } else if let Some(floor) = f32_resolution_floor(r.obj.as_ref(), ends).filter(|&floor| {
        floor >= 0.5 * r.plan.grad_tol && median_stalled_gradient(ends) <= 4.0 * floor
    }) {
        format!(
            "no walker reached |grad| <= --grad-tol {}: the walk kept x in f32, and where the \
             walkers stopped, rounding each coordinate of x by half an f32 ulp alone moves \
             |grad| by about {floor:.1e} (the Hessian times that rounding), so no f32 point \
             there meets the tolerance and the steps no longer move x; use --grad-tol {:.0e} \
             or more, or --backend cpu (the walker state in f64; its --precision f32 rounds \
             only the evaluation)",
            r.plan.grad_tol,
            significant_up(2.0 * floor)
        )
    } else {
        format!(
            "no walker reached |grad| <= --grad-tol {} within --steps {}: {lr_advice}try more \
             --steps, a larger --grad-tol, or --optimizer newton-mr",
            r.plan.grad_tol, r.plan.max_steps
        )
    };
    // After a descent the walkers started where it ended: its line says how it went.
    let after = r.descent.as_ref().map_or(String::new(), |d| {
        format!(
            " (the walk started where {} steps of --descent {} ended; see its line, and try \
             a smaller lr there or --descent none)",
            d.steps,
            d.opt.spec()
        )
    });
    Some(format!("note: {why}{after}"))
}

/// Starts at which the curvature is measured above N = 100 ([`spread_curvature`]).
const CURVATURE_STARTS: usize = 16;

/// The largest |Hessian eigenvalue| of `obj` over the points `starts` (W x N; power iteration
/// on Hessian-vector products, 40 rounds each). None on a sphere or when no point gives a
/// finite value.
fn largest_curvature_at(obj: &dyn Objective, starts: &[f64]) -> Option<f64> {
    if obj.sphere() {
        return None;
    }
    let n = obj.dim();
    let mut largest: Option<f64> = None;
    for x in starts.chunks(n) {
        let mut v: Vec<f64> = (0..n).map(|i| 1.0 + 0.1 * (i % 7) as f64).collect();
        let mut hv = vec![0.0; n];
        let mut lambda = f64::NAN;
        for _ in 0..40 {
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                break;
            }
            v.iter_mut().for_each(|a| *a /= norm);
            obj.hvp(x, &v, &mut hv);
            lambda = hv.iter().map(|a| a * a).sum::<f64>().sqrt();
            std::mem::swap(&mut v, &mut hv);
        }
        if lambda.is_finite() {
            largest = Some(largest.map_or(lambda, |l: f64| l.max(lambda)));
        }
    }
    largest
}

/// The optimizer's step size `lr` (a range's lower end), if its rule has one.
fn lr_of(opt: &Optimizer) -> Option<f64> {
    opt.rule
        .params
        .iter()
        .zip(opt.hyper())
        .find(|(p, _)| p.key == "lr")
        .map(|(_, v)| v)
}

/// Rules whose step is lr times the gradient (plus momentum or noise): stable below
/// 2 / the largest curvature, whatever the landscape.
const GRADIENT_STEP_RULES: [&str; 5] = ["gd", "momentum", "nesterov", "sgd", "pgd"];

/// When more than half the walkers diverged with a gradient-step rule at its *default* lr
/// (`optimizer`, the spec as given, sets no lr) and that lr is above 1/curvature at starts
/// spread over `starts`: the optimizer spec with lr = 1/(2 curvature) and a note saying so,
/// for the walk to be run again (a default that leaves every walker diverging on
/// Müller-Brown or Rosenbrock is no default). An lr the user gave is kept (the summary then
/// says which would be stable, [`diverged_step_note`]). `what`: what the walkers are
/// ("starts", "pixels").
pub fn stable_default_step(
    optimizer: &str,
    obj: &dyn Objective,
    opt: &Optimizer,
    starts: &[f64],
    ends: &EndStates,
    what: &str,
) -> Option<(String, String)> {
    let given_lr = optimizer
        .split_once(':')
        .is_some_and(|(_, kv)| kv.split(',').any(|p| p.trim().starts_with("lr=")));
    if given_lr || !GRADIENT_STEP_RULES.contains(&opt.rule.name) {
        return None;
    }
    // Only where the step is the cause (most diverged, lr above 1/curvature).
    let [_, _, (_, diverged)] = ends.counts();
    let Unstable { c, lr: old_lr, .. } = unstable_step(obj, opt, starts, diverged, ends.len())?;
    let lr = format!("{:.1e}", 0.5 / c);
    let again = if optimizer.contains(':') {
        format!("{optimizer},lr={lr}")
    } else {
        format!("{optimizer}:lr={lr}")
    };
    let note = format!(
        "with the default lr = {old_lr}, {diverged} of {} walkers diverged (the largest \
         Hessian eigenvalue at the starts is {c:.2e}, so a step above 2/curvature = {:.1e} \
         grows); walking again from the same {what} with --optimizer {again} (1/(2 curvature)): the \
         files are that walk's; give lr= to choose the step",
        ends.len(),
        2.0 / c,
    );
    Some((again, note))
}

/// For a walk whose state was f32 (a GPU walk): the median, over up to 16 end states spread
/// over the walkers that ran out of steps, of `critical::floor::resolution_floor`, the floor
/// under |∇f| such a walk can reach. None for an f64 walk or without such walkers.
fn f32_resolution_floor(obj: &dyn Objective, ends: &EndStates) -> Option<f64> {
    if ends.precision != "f32" {
        return None;
    }
    let stalled: Vec<usize> = (0..ends.len())
        .filter(|&w| ends.status[w] == crate::walk::state::Status::MaxSteps)
        .collect();
    let k = stalled.len().min(16);
    let mut floors: Vec<f64> = (0..k)
        .filter_map(|i| {
            critical::floor::resolution_floor(obj, ends.point(stalled[i * stalled.len() / k]))
        })
        .collect();
    if floors.is_empty() {
        return None;
    }
    floors.sort_by(f64::total_cmp);
    Some(floors[floors.len() / 2])
}

/// The median |∇f| of the walkers that ran out of steps (infinite without any): whether they
/// stopped at the f32 floor ([`f32_resolution_floor`]) or far above it, still descending.
fn median_stalled_gradient(ends: &EndStates) -> f64 {
    let mut g: Vec<f64> = (0..ends.len())
        .filter(|&w| ends.status[w] == crate::walk::state::Status::MaxSteps)
        .map(|w| ends.grad_norm[w])
        .collect();
    if g.is_empty() {
        return f64::INFINITY;
    }
    g.sort_by(f64::total_cmp);
    g[g.len() / 2]
}

/// `v` rounded up to one significant digit (for advice: 2.3e-4 -> 3e-4).
fn significant_up(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return v;
    }
    let scale = 10f64.powf(v.log10().floor());
    (v / scale).ceil() * scale
}

/// How many starts spread over `starts` were looked at, and their largest curvature: 256 in
/// low dimensions (basins' planes), so that the domain's largest curvature is not missed
/// (on Müller-Brown 16 gave a step at which 43% of the walkers still oscillated), else
/// [`CURVATURE_STARTS`].
fn spread_curvature(obj: &dyn Objective, starts: &[f64]) -> (usize, Option<f64>) {
    let n = obj.dim().max(1);
    let w = starts.len() / n;
    let k = if n <= 100 { 256 } else { CURVATURE_STARTS }.min(w);
    let picked: Vec<f64> = (0..k)
        .flat_map(|i| starts[(i * w / k) * n..(i * w / k + 1) * n].iter().copied())
        .collect();
    (k, largest_curvature_at(obj, &picked))
}

/// A step found unstable: the largest curvature `c` at `k` spread starts and the rule's `lr`.
struct Unstable {
    k: usize,
    c: f64,
    lr: f64,
}

/// More than half of `walkers` diverged under a rule with a step size above 1/curvature at
/// starts spread over `starts` (W x N). None otherwise (fewer diverged, no lr, or a step
/// already below it).
fn unstable_step(
    obj: &dyn Objective,
    opt: &Optimizer,
    starts: &[f64],
    diverged: usize,
    walkers: usize,
) -> Option<Unstable> {
    if walkers == 0 || 2 * diverged <= walkers {
        return None;
    }
    let lr = lr_of(opt)?;
    let (k, c) = spread_curvature(obj, starts);
    let c = c.filter(|&c| c > 0.0 && lr > 1.0 / c)?;
    Some(Unstable { k, c, lr })
}

/// A note when [`unstable_step`] finds the step the cause of the divergence: the step that
/// would be stable there.
pub fn diverged_step_note(
    obj: &dyn Objective,
    opt: &Optimizer,
    starts: &[f64],
    diverged: usize,
    walkers: usize,
) -> Option<String> {
    let Unstable { k, c, lr } = unstable_step(obj, opt, starts, diverged, walkers)?;
    Some(format!(
        "{diverged} of {walkers} walkers diverged: lr = {lr} is above 1/curvature = {:.1e} \
         where they start (the largest Hessian eigenvalue at {k} of the starts is {c:.2e}; a \
         step above 2/curvature oscillates and grows): try lr={:.1e}, or clip=",
        1.0 / c,
        0.5 / c
    ))
}

/// Walker-steps per second of a walk (the steps walkers actually took).
pub fn walker_steps_per_s(ends: &EndStates, seconds_walk: f64) -> f64 {
    ends.steps.iter().map(|&s| s as f64).sum::<f64>() / seconds_walk.max(1e-9)
}

/// Runs a resolved sample and writes its files: starts, end states, the catalogue, walkers.csv;
/// a shard writes its walk's files only ([`write_shard`]).
pub fn run(spec: &SampleSpec, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
    let range = r.shard.map_or(0..r.walkers, |s| s.range(r.walkers));
    let first = r.plan.first_walker + range.start as u32;
    let starts = r
        .init
        .starts(r.obj.as_ref(), r.plan.seed, first, range.len());
    // Ranges in the optimizer spec spread over all the run's walkers (walker k of W, see
    // hyper_rows), of which a shard takes its slice.
    let all = r.opt.hyper_rows(r.walkers);
    let hyper = all.slice(range.clone());
    let plan = WalkPlan {
        first_walker: first,
        ..r.plan.clone()
    };
    let descent = match &r.descent {
        Some(d) => Some(walk_descent(d, r, range.clone(), &plan, &starts, ctx)?),
        None => None,
    };
    let from = descent.as_ref().map_or(&starts, |(e, _)| &e.x);
    let t_walk = Instant::now();
    let base = descent_work(r) * range.len() as u64 / r.walkers.max(1) as u64;
    let ends = ctx.walk_instances("walk", &[r.obj.as_ref()], &r.opt, &plan, from, &hyper, base)?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();
    ctx.timings.add("walk", seconds_walk);
    // A default step that made most walkers diverge: walked again at a stable one (one run
    // only: shards walk once each, so that all walk with one step; after a descent the walk
    // starts elsewhere than the starts the curvature is measured at).
    let again = (r.shard.is_none() && r.descent.is_none())
        .then(|| {
            stable_default_step(
                &spec.optimizer,
                r.obj.as_ref(),
                &r.opt,
                &starts,
                &ends,
                "starts",
            )
        })
        .flatten();
    if let Some((optimizer, note)) = again {
        let spec2 = SampleSpec {
            optimizer,
            ..spec.clone()
        };
        let r2 = spec2.resolve()?;
        ctx.observer.finish();
        ctx.observer.line(&format!("note: {note}"));
        ctx.observer.start(
            "walking again",
            r2.walkers as u64 * (u64::from(r2.plan.max_steps) + 1),
        );
        let hyper2 = r2.opt.hyper_rows(r2.walkers);
        let t_walk = Instant::now();
        let ends = ctx.walk_instances(
            "walk-stable-step",
            &[r2.obj.as_ref()],
            &r2.opt,
            &plan,
            &starts,
            &hyper2,
            0,
        )?;
        let seconds_walk = t_walk.elapsed().as_secs_f64();
        ctx.timings.add("walk", seconds_walk);
        let mut report = finish(&spec2, &r2, &starts, &ends, seconds_walk, ctx)?;
        report.summary.push(format!("note: {note}"));
        return Ok(report);
    }
    let mut report = match r.shard {
        Some(shard) => write_shard(spec, r, shard, &starts, &ends, seconds_walk, ctx),
        None => finish(spec, r, &starts, &ends, seconds_walk, ctx),
    }?;
    if let (Some(d), Some((e, secs))) = (&r.descent, &descent) {
        report
            .results
            .insert("descent".into(), descent_json(d, e, *secs));
        report.summary.insert(1, descent_line(d, e, &r.opt, *secs));
    }
    Ok(report)
}

/// The descent walk of a run's walkers `range` from `starts`: its end states (where the
/// optimizer's walk starts) and its seconds.
fn walk_descent(
    d: &Descent,
    r: &Resolved,
    range: std::ops::Range<usize>,
    plan: &WalkPlan,
    starts: &[f64],
    ctx: &mut Ctx,
) -> anyhow::Result<(EndStates, f64)> {
    let all = d.opt.hyper_rows(r.walkers);
    let hyper = all.slice(range.clone());
    let plan = WalkPlan {
        max_steps: d.steps,
        ..plan.clone()
    };
    let t = Instant::now();
    let ends = ctx.walk_instances(
        "descent",
        &[r.obj.as_ref()],
        &d.opt,
        &plan,
        starts,
        &hyper,
        0,
    )?;
    let secs = t.elapsed().as_secs_f64();
    ctx.timings.add("descent", secs);
    Ok((ends, secs))
}

/// The manifest's `descent`: what ran before the optimizer and how its walkers ended.
fn descent_json(d: &Descent, ends: &EndStates, secs: f64) -> serde_json::Value {
    serde_json::json!({
        "optimizer": d.opt.spec(),
        "steps": d.steps,
        "status_counts": status_counts(ends),
        "seconds": secs,
    })
}

/// The shards' descents as one: their status counts summed into the merged manifest's
/// `descent` and summary line; returns their seconds.
fn merged_descent(shards: &[run::merge::ShardFolder], d: &Descent, report: &mut Report) -> f64 {
    let mut counts = [0u64; 3];
    let mut secs = 0.0;
    for s in shards {
        let Some(desc) = s.manifest.results.get("descent") else {
            continue;
        };
        secs += desc["seconds"].as_f64().unwrap_or(0.0);
        for (c, name) in counts
            .iter_mut()
            .zip(["converged", "max_steps", "diverged"])
        {
            *c += desc["status_counts"][name].as_u64().unwrap_or(0);
        }
    }
    report.results.insert(
        "descent".into(),
        serde_json::json!({
            "optimizer": d.opt.spec(),
            "steps": d.steps,
            "status_counts": {"converged": counts[0], "max_steps": counts[1], "diverged": counts[2]},
            "seconds": secs,
        }),
    );
    report.summary.insert(
        1,
        format!(
            "descent: {} steps of {}  converged: {}  max_steps: {}  diverged: {}  (its shards)",
            d.steps,
            d.opt.spec(),
            counts[0],
            counts[1],
            counts[2]
        ),
    );
    secs
}

/// The summary line of the descent walk.
fn descent_line(d: &Descent, ends: &EndStates, opt: &Optimizer, secs: f64) -> String {
    let [(_, converged), (_, max_steps), (_, diverged)] = ends.counts();
    format!(
        "descent before {}: {} steps of {}  converged: {converged}  max_steps: {max_steps}  \
         diverged: {diverged}  ({secs:.3} s; the walkers above start where it ended)",
        opt.rule.name,
        d.steps,
        d.opt.spec()
    )
}

/// A shard's folder: its walkers' starts, end states and walkers.csv rows (global walker ids,
/// no points: the catalogue is made by `merge`), and the shard in the manifest.
fn write_shard(
    spec: &SampleSpec,
    r: &Resolved,
    shard: Shard,
    starts: &[f64],
    ends: &EndStates,
    seconds_walk: f64,
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let (n, range) = (r.obj.dim(), shard.range(r.walkers));
    let folder = ctx.folder;
    folder.write_positions("starts.npy", range.len(), n, starts, ends.precision)?;
    folder.write_positions("end_states.npy", range.len(), n, &ends.x, ends.precision)?;
    let all = r.opt.hyper_rows(r.walkers);
    write_walkers_csv(folder, range.start, ends, None, &all, &r.opt.sweeps())?;
    let mut results = serde_json::Map::new();
    results.insert(
        "shard".into(),
        serde_json::json!({"index": shard.index, "count": shard.count, "walkers": [range.start, range.end]}),
    );
    results.insert(
        "walker_steps_per_s".into(),
        walker_steps_per_s(ends, seconds_walk).into(),
    );
    results.insert("status_counts".into(), status_counts(ends).into());
    Ok(Report {
        resolved: resolved_of(spec, r)?,
        results,
        precision: ends.precision,
        summary: vec![
            status_line(ends, seconds_walk),
            format!(
                "shard {} of walkers {}..{}: join the {} shards with `saddlescope merge --out DIR SHARD_DIR...`",
                shard.text(),
                range.start,
                range.end,
                shard.count
            ),
        ],
    })
}

/// Writes a whole run's files from its end states (all walkers, in walker order): starts, end
/// states, the catalogue, walkers.csv, and the manifest's results. One run and `merge` both
/// end here, so merged shards give one run's files.
pub fn finish(
    spec: &SampleSpec,
    r: &Resolved,
    starts: &[f64],
    ends: &EndStates,
    seconds_walk: f64,
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let n = r.obj.dim();
    let hyper = r.opt.hyper_rows(r.walkers);
    let sweeps = r.opt.sweeps();
    let folder = ctx.folder;
    folder.write_positions("starts.npy", r.walkers, n, starts, ends.precision)?;
    folder.write_positions("end_states.npy", r.walkers, n, &ends.x, ends.precision)?;
    // Only converged walkers, and those of an f32 walk that stopped at its resolution floor,
    // can become critical points.
    let at_floor =
        (!spec.no_critical).then(|| critical::floor::timed(r.obj.as_ref(), ends, &mut ctx.timings));
    let catalogue = if let Some(at_floor) = &at_floor {
        let eligible = at_floor.eligible(&ends.status);
        let (cat, secs) =
            critical::catalogue_timed(r.obj.as_ref(), &ends.x, &eligible, &r.catalogue)?;
        critical::files::add_timings(&mut ctx.timings, &secs);
        let title = r.obj.spec();
        critical::files::write(folder, n, &cat, &title, &mut ctx.timings)?;
        let fit = critical::files::write_index_vs_loss(folder, &cat, &title, &mut ctx.timings)?;
        let density =
            critical::files::write_eigenvalue_density(folder, &cat, &title, &mut ctx.timings)?;
        Some((cat, fit, density))
    } else {
        None
    };
    let (catalogue, loss_fit) = match catalogue {
        Some((cat, fit, density)) => (Some(cat), Some((fit, density))),
        None => (None, None),
    };
    // End states that reached no critical point: the gradient-flat ones among them.
    let flats = catalogue.as_ref().map(|cat| {
        let diverged: Vec<bool> = ends.status.iter().map(|&s| s == Status::Diverged).collect();
        let cand = critical::flat::candidates(cat, &diverged);
        let examined = cand.iter().filter(|&&c| c).count();
        let flats = ctx.timings.time("gradient_flat", || {
            critical::flat::find(r.obj.as_ref(), &ends.x, &cand)
        });
        (flats, examined)
    });
    if let Some((flats, _)) = &flats {
        critical::flat::write(folder, flats)?;
    }
    write_walkers_csv(folder, 0, ends, catalogue.as_ref(), &hyper, &sweeps)?;

    let resolved = resolved_of(spec, r)?;
    let mut results = serde_json::Map::new();
    results.insert(
        "walker_steps_per_s".into(),
        walker_steps_per_s(ends, seconds_walk).into(),
    );
    results.insert("status_counts".into(), status_counts(ends).into());
    results.insert("sweeps".into(), serde_json::to_value(&r.opt.values.sweeps)?);
    results.insert(
        "critical_points".into(),
        catalogue
            .as_ref()
            .map_or(serde_json::Value::Null, critical::files::summary),
    );
    let mut summary = vec![status_line(ends, seconds_walk)];
    summary.extend(no_convergence_hint(ends, r, starts));
    if let Some(at) = &at_floor {
        results.insert("f32_floor_walkers".into(), at.count.into());
        summary.extend(at.note());
    }
    if let Some(cat) = &catalogue {
        results.insert("coverage".into(), critical::files::coverage_json(cat));
        summary.extend(critical::files::summary_lines(cat));
        if let Some((fit, density)) = &loss_fit {
            results.insert("index_vs_loss".into(), critical::index_loss::fit_json(fit));
            results.insert("eigenvalue_density".into(), (*density).into());
            summary.push(critical::index_loss::summary_line(
                "index against loss",
                fit,
            ));
        }
        if let Some((flats, examined)) = &flats {
            results.insert(
                "gradient_flat".into(),
                critical::flat::json(flats, *examined),
            );
            summary.extend(critical::flat::summary_line(flats));
        }
        let pos_tol = r.catalogue.pos_tol;
        if let Some(m) = MirrorCheck::for_objective(r.obj.as_ref(), cat, pos_tol) {
            results.insert("symmetry".into(), m.to_json());
            summary.push(m.summary_line());
        }
    }
    Ok(Report {
        resolved,
        results,
        precision: ends.precision,
        summary,
    })
}

/// The manifest's `resolved` of a sample run.
fn resolved_of(spec: &SampleSpec, r: &Resolved) -> anyhow::Result<run::Resolved> {
    let mut resolved = run::Resolved {
        objective: Some(r.obj.spec()),
        dim: Some(r.obj.dim()),
        sphere: r.obj.sphere(),
        rest: serde_json::Map::new(),
    };
    let rest = &mut resolved.rest;
    rest.insert("optimizer".into(), r.opt.spec().into());
    rest.insert(
        "descent".into(),
        r.descent.as_ref().map_or(
            serde_json::Value::Null,
            |d| serde_json::json!({"optimizer": d.opt.spec(), "steps": d.steps}),
        ),
    );
    rest.insert("init".into(), serde_json::to_value(&r.init)?);
    rest.insert("plan".into(), serde_json::to_value(&r.plan)?);
    rest.insert(
        "catalogue".into(),
        if spec.no_critical {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&r.catalogue)?
        },
    );
    Ok(resolved)
}

/// walkers.csv: one row per walker (ids from `first`; `hyper` holds every walker of the run),
/// one more column per swept key named by the key (each walker's value).
fn write_walkers_csv(
    folder: &RunFolder,
    first: usize,
    ends: &EndStates,
    catalogue: Option<&Catalogue>,
    hyper: &crate::walk::Hyper,
    sweeps: &[(usize, &'static str, crate::spec::Sweep)],
) -> anyhow::Result<()> {
    let mut header = String::from("walker,f,grad_norm,steps,status,point");
    for (_, key, _) in sweeps {
        header.push(',');
        header.push_str(key);
    }
    let mut csv = Csv::new(&header);
    for w in 0..ends.len() {
        let point = catalogue
            .and_then(|c| c.point_of(w))
            .map_or(String::new(), |p| p.to_string());
        let mut row = vec![
            (first + w).to_string(),
            output::num(ends.f[w]),
            output::num(ends.grad_norm[w]),
            ends.steps[w].to_string(),
            ends.status[w].name().to_string(),
            point,
        ];
        row.extend(
            sweeps
                .iter()
                .map(|(k, key, _)| crate::rules::show_hyper(key, hyper.get(*k, first + w))),
        );
        csv.row(&row);
    }
    folder.write_csv("walkers.csv", &csv)?;
    Ok(())
}

/// `saddlescope plot DIR` for a sample folder: redraws the index histogram from
/// critical_points.csv (index, kind and walkers of every distinct point, which also give the
/// coverage).
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let bad = |what: String| SpecError::folder(dir, what);
    let m = Manifest::read_of(dir, "sample")?;
    if m.result("critical_points").is_null() {
        return Err(bad(
            "this sample ran with --no-critical: it has no critical points to draw".into(),
        )
        .into());
    }
    let title = m
        .resolved
        .objective
        .clone()
        .unwrap_or_else(|| "sample".into());
    let dim = m
        .resolved
        .dim
        .ok_or_else(|| bad("manifest.json names no resolved.dim".into()))?;
    let t = crate::table::Table::read(dir, "critical_points.csv", critical::files::COLUMNS)?;
    let distinct = &m.result("critical_points")["distinct"];
    t.expect_rows(
        crate::table::manifest_count(dir, distinct, "critical_points.distinct")?,
        "manifest.json (critical_points.distinct)",
    )?;
    let kinds = critical::Kind::NAMES;
    let mut bins: Vec<critical::IndexBin> = Vec::new();
    let mut counted = Vec::new();
    // The position of every point: x0 … x{N-1}, finite (written up to N = CSV_COORDS).
    let coords: Vec<String> = match dim <= critical::files::CSV_COORDS {
        true => (0..dim).map(|i| format!("x{i}")).collect(),
        false => Vec::new(),
    };
    if let Some(missing) = coords.iter().find(|c| !t.header().contains(&c.as_str())) {
        return Err(SpecError::Table {
            file: dir.join("critical_points.csv"),
            line: 1,
            problem: format!(
                "the header has no column {missing}; a catalogue at N = {dim} has x0 … x{}",
                dim - 1
            ),
        }
        .into());
    }
    for r in 0..t.len() {
        for c in &coords {
            t.finite(r, c)?;
        }
        // The Hessian's eigenvalue counts cover its dimension (N, or N − 1 on the sphere).
        let counts = ["n_neg", "n_zero", "n_pos"]
            .iter()
            .map(|c| t.usize(r, c))
            .collect::<Result<Vec<_>, _>>()?;
        let n: usize = counts.iter().sum();
        if n != dim && n + 1 != dim {
            return Err(t
                .bad(
                    r,
                    format!(
                        "n_neg + n_zero + n_pos = {n}, not the Hessian's dimension (N = {dim}, or \
                         {} on the sphere)",
                        dim.saturating_sub(1)
                    ),
                )
                .into());
        }
        if t.usize(r, "id")? != r {
            return Err(t
                .bad(
                    r,
                    format!(
                        "id = {} where the ids count 0, 1, … in order",
                        t.str(r, "id")?
                    ),
                )
                .into());
        }
        t.finite(r, "f")?;
        t.finite(r, "grad_norm")?;
        let index = t.usize(r, "index")?;
        if index > dim {
            return Err(t
                .bad(r, format!("index = {index} is more than N = {dim}"))
                .into());
        }
        let walkers = t.usize(r, "walkers")?;
        if walkers == 0 {
            return Err(t
                .bad(r, "walkers = 0: every point was reached by a walker")
                .into());
        }
        let degenerate = t.choice(r, "kind", kinds)? == critical::Kind::Degenerate.as_str();
        counted.push(critical::coverage::Counted {
            index,
            walkers,
            degenerate,
        });
        while bins.len() <= index {
            bins.push(critical::IndexBin {
                index: bins.len(),
                ..Default::default()
            });
        }
        let b = &mut bins[index];
        b.points += 1;
        b.walkers += walkers;
        if degenerate {
            b.points_degenerate += 1;
            b.walkers_degenerate += walkers;
        }
    }
    let coverage = critical::coverage::CatalogueCoverage::of(counted);
    // Every table is checked before the first figure is drawn.
    let loss = if m.result("index_vs_loss").is_null() {
        None
    } else {
        Some(read_index_vs_loss(dir, &t, dim)?)
    };
    let spectrum = if m.result("eigenvalue_density").as_bool() == Some(true) {
        read_spectrum(dir, &t, dim, m.resolved.sphere)?
    } else {
        None
    };
    crate::figure::index_histogram_bins(&dir.join("index_histogram"), &bins, &coverage, &title)?;
    if let Some(points) = loss {
        let groups = [crate::figure::index_loss::LossGroup {
            label: String::new(),
            fit: critical::index_loss::fit(&points),
            points,
        }];
        crate::figure::index_loss::index_vs_loss(
            &dir.join("index_vs_loss"),
            &title,
            critical::files::loss_label(&title),
            &groups,
        )?;
    }
    if let Some(s) = spectrum {
        crate::figure::index_loss::eigenvalue_density(&dir.join("eigenvalue_density"), &title, &s)?;
    }
    Ok(())
}

/// index_vs_loss.csv read back and held to critical_points.csv (`cp`, already checked): one row
/// per point in id order with its f, index and kind, n the Hessian's dimension (N, or N − 1 on
/// spheres) and index_fraction = index / n.
fn read_index_vs_loss(
    dir: &Path,
    cp: &crate::table::Table,
    dim: usize,
) -> anyhow::Result<Vec<critical::index_loss::LossPoint>> {
    let t = crate::table::Table::read(
        dir,
        "index_vs_loss.csv",
        &crate::sweep::tables::columns(critical::index_loss::HEADER),
    )?;
    t.expect_rows(cp.len(), "critical_points.csv (one row per point)")?;
    let mut points = Vec::with_capacity(t.len());
    for r in 0..t.len() {
        let same = |col: &str| -> anyhow::Result<()> {
            if t.str(r, col)? != cp.str(r, col)? {
                return Err(t
                    .bad(
                        r,
                        format!(
                            "{col} = '{}' where critical_points.csv line {} says '{}'",
                            t.str(r, col)?,
                            r + 2,
                            cp.str(r, col)?
                        ),
                    )
                    .into());
            }
            Ok(())
        };
        for col in ["id", "f", "index", "kind", "walkers"] {
            same(col)?;
        }
        let n = t.usize(r, "n")?;
        if n == 0 || n > dim || n + 1 < dim {
            return Err(t
                .bad(
                    r,
                    format!("n = {n} where the Hessian has N = {dim} (or N − 1 on spheres) rows"),
                )
                .into());
        }
        let index = t.usize(r, "index")?;
        if index > n {
            return Err(t
                .bad(r, format!("index = {index} is more than n = {n}"))
                .into());
        }
        let frac = t.fraction(r, "index_fraction")?;
        if (frac - index as f64 / n as f64).abs() > 1e-12 {
            return Err(t
                .bad(
                    r,
                    format!("index_fraction = {frac} is not index / n = {index}/{n}"),
                )
                .into());
        }
        let kind = t.choice(r, "kind", critical::Kind::NAMES)?;
        points.push(critical::index_loss::LossPoint {
            f: t.finite(r, "f")?,
            index,
            n,
            kind: kind_of(&kind),
        });
    }
    Ok(points)
}

/// The kind named as the tables write it (an unknown name reads as degenerate; readers check
/// names with `Table::choice` first).
pub fn kind_of(name: &str) -> critical::Kind {
    use critical::Kind;
    [Kind::Minimum, Kind::Saddle, Kind::Maximum, Kind::Degenerate]
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or(Kind::Degenerate)
}

/// eigenvalues.npy read back (f64, one row of N eigenvalues per point of critical_points.csv, N
/// − 1 on spheres) and pooled into the eigenvalue density by each point's kind and counts.
fn read_spectrum(
    dir: &Path,
    cp: &crate::table::Table,
    dim: usize,
    sphere: bool,
) -> anyhow::Result<Option<critical::spectrum::Spectrum>> {
    let bad = |what: String| SpecError::folder(dir, what);
    let bytes = std::fs::read(dir.join("eigenvalues.npy"))
        .map_err(|e| bad(format!("cannot read eigenvalues.npy ({e})")))?;
    let (descr, shape, raw) = crate::output::read_npy(&bytes)
        .ok_or_else(|| bad("eigenvalues.npy is not a .npy file (format 1.0)".into()))?;
    let ne = if sphere { dim.saturating_sub(1) } else { dim };
    let k = cp.len();
    if descr != "<f8" || shape != [k, ne] || raw.len() != k * ne * 8 {
        return Err(bad(format!(
            "eigenvalues.npy holds {descr} of shape {shape:?} ({} bytes of data) where the \
             catalogue needs <f8 of shape [{k}, {ne}] (one row per critical point)",
            raw.len()
        ))
        .into());
    }
    let ev: Vec<f64> = raw
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    let mut groups = Vec::with_capacity(k);
    for r in 0..k {
        let kind = kind_of(&cp.choice(r, "kind", critical::Kind::NAMES)?);
        let (neg, zero, pos) = (
            cp.usize(r, "n_neg")?,
            cp.usize(r, "n_zero")?,
            cp.usize(r, "n_pos")?,
        );
        if neg + zero + pos != ne {
            return Err(cp
                .bad(
                    r,
                    format!(
                        "n_neg + n_zero + n_pos = {} where the Hessian has {ne} eigenvalues",
                        neg + zero + pos
                    ),
                )
                .into());
        }
        let row = &ev[r * ne..(r + 1) * ne];
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!(
                "eigenvalues.npy row {r} holds {v}, not a finite eigenvalue"
            ))
            .into());
        }
        groups.push((critical::spectrum::group_of(kind, neg, pos), row));
    }
    Ok(critical::spectrum::density(&groups))
}

/// `saddlescope merge` of the shard folders of one sample run (checked and in shard order,
/// [`run::merge::read_shards`]): their starts, end states and walkers.csv rows are joined in
/// walker order and go through [`finish`], as one run's end states do, into `out`.
pub fn merge(
    out: &Path,
    shards: &[run::merge::ShardFolder],
    inv: &run::Invocation,
) -> anyhow::Result<run::Finished> {
    let mut spec: SampleSpec = run::merge::shared_spec(shards)?;
    spec.shard = None;
    let r = spec.resolve()?;
    spec.memory(&r).check()?;
    let n = r.obj.dim();
    let starts = run::merge::read_positions(shards, "starts.npy", r.walkers, n)?.0;
    let ends = run::merge::read_end_states(shards, r.walkers, n)?;
    let folder = RunFolder::create(Some(out), SampleSpec::NAME, &spec.objective)?;
    let backend = Backend::cpu();
    let mut ctx = Ctx::new(&backend, &folder, &run::Silent);
    let seconds = run::merge::walk_seconds(shards);
    ctx.timings.add("walk", seconds);
    let mut done = finish(&spec, &r, &starts, &ends, seconds, &mut ctx);
    if let (Some(d), Ok(report)) = (&r.descent, done.as_mut()) {
        let secs = merged_descent(shards, d, report);
        ctx.timings.add("descent", secs);
    }
    run::merge::complete(&spec, &r, ctx, done, shards, &folder, inv)
}
