//! `saddlescope escape`: which methods leave a saddle or a plateau, how fast and how reliably.
//! Walkers start at (or uniformly around) one point, each optimizer spec is one arm, the engine
//! records each walker's first step at distance ≥ R from its start (or with f dropped by δ),
//! walkers run on until they converge or reach --steps, and the critical-point pipeline names
//! the attractor each one ended at. Outputs: escape.csv (one row per arm), escape_times.csv (one
//! row per walker), attractors.csv, the pooled catalogue, ECDF and outcome figures.

mod from;
pub mod stats;
mod tables;

use std::path::Path;
use std::time::Instant;

pub use from::{starts, Centre, Origin};
pub use tables::{End, ENDS};

use crate::backend::Backend;
use crate::critical::{self, Catalogue, CatalogueOptions, Kind};
use crate::objective::{self, Objective};
use crate::output::{self, Csv};
use crate::rules::{self, Optimizer};
use crate::run::memory::{Estimate, Need};
use crate::run::shard::Shard;
use crate::run::{self, Command, Ctx, Manifest, Report, WalkOptions};
use crate::spec::SpecError;
use crate::walk::state::{Status, NO_ESCAPE};
use crate::walk::{EndStates, Hyper, WalkPlan};

/// Everything `escape` needs, as the user gave it (the command line's flags; the manifest's
/// `spec`).
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[command(allow_negative_numbers = true)]
pub struct EscapeSpec {
    /// Objective spec, e.g. saddle, flat-well:n=4, camel6
    #[arg(long)]
    pub objective: String,
    /// saddle | point:x=a;b;... | critical:DIR,ID (a point of an earlier sample's catalogue) | plateau
    #[arg(long)]
    pub from: String,
    /// Starts are uniform in the ball of this radius around the point (0 = exactly there;
    /// default 1e-3 * max(1, |x|)).
    #[arg(long)]
    pub radius: Option<f64>,
    /// Escaped at the first step at distance >= R from the walker's own start
    /// (default 0.1 * max(1, |x|)).
    #[arg(long, conflicts_with = "escape_drop")]
    pub escape_radius: Option<f64>,
    /// Escaped at the first step where f has dropped by this much from f(start).
    #[arg(long)]
    pub escape_drop: Option<f64>,
    /// One arm per optimizer spec, e.g. gd:lr=0.1 sgd:lr=0.1,noise=0.1 pgd:lr=0.1
    #[arg(long, num_args = 1.., required = true)]
    pub optimizers: Vec<String>,
    /// Walkers per arm.
    #[arg(long, default_value_t = 1024)]
    pub walkers: usize,
    /// (A walker may stop as converged, at |grad f| <= --grad-tol, only once it has escaped,
    /// so that zero-gradient starts are not stopped before noise or a perturbation moves them.)
    #[command(flatten)]
    #[serde(flatten)]
    pub walk: WalkOptions,
    /// Walk only shard K of N of every arm's walkers (K/N); `saddlescope merge` joins the N
    /// folders into the folder of one run.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// When a walker counts as escaped.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Distance from the walker's own start >= R.
    Radius(f64),
    /// f(start) - f >= δ.
    Drop(f64),
}

impl Criterion {
    pub fn describe(&self) -> String {
        match self {
            Criterion::Radius(r) => format!("R = {}", short(*r)),
            Criterion::Drop(d) => format!("f drop δ = {}", short(*d)),
        }
    }
}

/// One arm: an optimizer, the label figures use (the spec as typed), and its walk group.
pub struct Arm {
    pub label: String,
    pub opt: Optimizer,
    /// Index into `Resolved::groups`.
    pub group: usize,
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub centre: Centre,
    /// r0 as used.
    pub radius: f64,
    pub criterion: Criterion,
    pub arms: Vec<Arm>,
    /// Arms that run as one walk (same rule, same shader), in order of first appearance.
    pub groups: Vec<Vec<usize>>,
    pub plan: WalkPlan,
    /// Walkers per arm.
    pub walkers: usize,
    /// The slice of every arm's walkers this run walks (None: all).
    pub shard: Option<Shard>,
}

/// Default r0 and R, relative to the size of the starting point (|x| = √N on spheres).
const DEFAULT_RADIUS: f64 = 1e-3;
const DEFAULT_ESCAPE_RADIUS: f64 = 0.1;
/// Default `--grad-tol` (the walk's). Walkers may stop as converged only after they have
/// escaped (`WalkPlan::settle_after_escape`), so a zero-gradient start is never "converged" at
/// step 0.
pub const DEFAULT_GRAD_TOL: f64 = 1e-4;

fn positive(flag: &'static str, v: f64, zero_ok: bool) -> Result<f64, SpecError> {
    if v.is_finite() && (v > 0.0 || zero_ok && v == 0.0) {
        Ok(v)
    } else {
        Err(SpecError::flag(
            flag,
            v,
            if zero_ok {
                "a finite number >= 0"
            } else {
                "a finite number > 0"
            },
        ))
    }
}

impl EscapeSpec {
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let origin = Origin::parse(&self.from)?;
        // escape matches every end state to a catalogue of critical points.
        crate::critical::check_dim(obj.as_ref(), "valid: a smaller n")?;
        let (arms, groups) = arms_of(&self.optimizers, obj.as_ref())?;
        crate::sample::check_walkers(
            "--walkers",
            self.walkers,
            crate::sample::MAX_WALKERS / arms.len(),
        )?;
        let plan = self.walk.plan()?;
        if let Some(r) = self.radius {
            positive("--radius", r, true)?;
        }
        let criterion = self.criterion()?;
        // Last: reading a catalogue folder is the slowest check.
        let centre = origin.resolve(obj.as_ref())?;
        let scale = centre.x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1.0);
        let radius = self.radius.unwrap_or(DEFAULT_RADIUS * scale);
        let criterion = match criterion {
            Criterion::Radius(r) if r.is_nan() => Criterion::Radius(DEFAULT_ESCAPE_RADIUS * scale),
            c => c,
        };
        let (escape_radius, escape_drop) = match criterion {
            Criterion::Radius(r) => (r, 0.0),
            Criterion::Drop(d) => (0.0, d),
        };
        let plan = WalkPlan {
            settle_after_escape: true,
            escape_radius,
            escape_drop,
            ..plan
        };
        Ok(Resolved {
            obj,
            centre,
            radius,
            criterion,
            arms,
            groups,
            plan,
            walkers: self.walkers,
            shard: match self.shard.as_deref().map(Shard::parse).transpose()? {
                Some(s) => {
                    s.check(self.walkers, "walkers per arm")?;
                    Some(s)
                }
                None => None,
            },
        })
    }

    /// The criterion as given; with neither flag `Radius(NaN)`, which [`EscapeSpec::resolve`]
    /// replaces by the default relative to the starting point.
    fn criterion(&self) -> Result<Criterion, SpecError> {
        Ok(match (self.escape_radius, self.escape_drop) {
            (Some(_), Some(_)) => {
                return Err(SpecError::Invalid(
                    "--escape-radius and --escape-drop exclude each other; give one".into(),
                ))
            }
            (Some(r), None) => Criterion::Radius(positive("--escape-radius", r, false)?),
            (None, Some(d)) => Criterion::Drop(positive("--escape-drop", d, false)?),
            (None, None) => Criterion::Radius(f64::NAN),
        })
    }
}

/// One arm per optimizer spec (each given once), checked against the objective, and the walk
/// groups: arms with equal [`walk_key`]s, in order of first appearance.
fn arms_of(
    optimizers: &[String],
    obj: &dyn Objective,
) -> Result<(Vec<Arm>, Vec<Vec<usize>>), SpecError> {
    if optimizers.is_empty() {
        return Err(SpecError::Invalid(
            "--optimizers needs at least one optimizer spec (one arm each), e.g. \
             --optimizers gd:lr=0.1 sgd:lr=0.1,noise=0.1 pgd"
                .into(),
        ));
    }
    let mut arms: Vec<Arm> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for text in optimizers {
        let opt = rules::parse(text)?;
        opt.check_objective(obj)?;
        if let Some(a) = arms.iter().find(|a| a.opt.spec() == opt.spec()) {
            return Err(SpecError::Invalid(format!(
                "--optimizers: '{text}' and '{}' are the same arm ({}); give each arm once",
                a.label,
                opt.spec()
            )));
        }
        let key = walk_key(&opt);
        let group = match keys.iter().position(|k| *k == key) {
            Some(g) => g,
            None => {
                keys.push(key);
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        groups[group].push(arms.len());
        arms.push(Arm {
            label: text.trim().to_string(),
            opt,
            group,
        });
    }
    Ok((arms, groups))
}

impl Command for EscapeSpec {
    const NAME: &'static str = "escape";
    type Resolved = Resolved;

    fn resolve(&self) -> Result<Resolved, SpecError> {
        EscapeSpec::resolve(self)
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
        r.arms.iter().map(|a| &a.opt).collect()
    }
    fn memory(&self, r: &Resolved) -> Need {
        let n = r.obj.dim() as u64;
        let all = (r.walkers as u64).saturating_mul(r.arms.len() as u64);
        let slots = r.arms.iter().map(|a| a.opt.rule.slots()).max().unwrap_or(0) as u64;
        let hyper = r
            .arms
            .iter()
            .map(|a| a.opt.hyper().len())
            .max()
            .unwrap_or(0) as u64;
        let mut estimate = Estimate::new();
        estimate.walkers(all, n, slots, hyper).catalogue(all, n);
        Need {
            what: format!(
                "escape --walkers {} x {} arms at N = {n}",
                r.walkers,
                r.arms.len()
            ),
            estimate,
            valid: "fewer --walkers or fewer --optimizers".into(),
        }
    }
    fn check(&self, r: &Resolved, backend: &Backend) -> Result<(), SpecError> {
        r.arms
            .iter()
            .try_for_each(|arm| backend.check(r.obj.as_ref(), &arm.opt))
    }
    fn describe(&self, r: &Resolved) -> String {
        format!(
            "{} arms x {} walkers on {} (N = {}) from {}, {} walk(s)",
            r.arms.len(),
            r.walkers,
            r.obj.spec(),
            r.obj.dim(),
            r.centre.description,
            r.groups.len()
        )
    }
    fn work(&self, r: &Resolved) -> u64 {
        (r.arms.len() * r.walkers) as u64 * (u64::from(r.plan.max_steps) + 1)
    }
    fn run(&self, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
        run(self, r, ctx)
    }
}

/// Arms with equal keys run in one walk: same rule and the same compiled shader (the WGSL
/// constants an optimizer emits), so their per-walker hyperparameter rows are only data.
fn walk_key(opt: &Optimizer) -> String {
    format!("{}\n{}", opt.rule.name, opt.wgsl_consts())
}

/// Per-walker hyperparameters of one arm: every row of the returned table has `walkers` values.
/// The one place an arm's rows are made, so that ranges across walkers plug in here.
pub fn arm_hyper(opt: &Optimizer, walkers: usize) -> Hyper {
    opt.hyper_rows(walkers)
}

/// The name of each hyperparameter row of `opt` (the rule's table keys, in order); a row beyond
/// the table is named `hp<k>`. Swept-value columns and figures are named by these.
pub fn row_keys(opt: &Optimizer, rows: usize) -> Vec<String> {
    (0..rows)
        .map(|k| {
            opt.rule
                .params
                .get(k)
                .map_or(format!("hp{k}"), |p| p.key.to_string())
        })
        .collect()
}

/// Runs a resolved escape experiment and writes its files.
pub fn run(spec: &EscapeSpec, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
    let hypers: Vec<Hyper> = r
        .arms
        .iter()
        .map(|a| arm_hyper(&a.opt, r.walkers))
        .collect();
    run_with(spec, r, &hypers, ctx)
}

/// [`run`] with each arm's per-walker hyperparameter rows given (one `Hyper` per arm, rows in
/// the rule's table order, `r.walkers` values each).
pub fn run_with(
    _spec: &EscapeSpec,
    r: &Resolved,
    hypers: &[Hyper],
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let w = r.walkers;
    anyhow::ensure!(
        hypers.len() == r.arms.len()
            && hypers
                .iter()
                .all(|h| h.rows.iter().all(|row| row.len() == w))
            && r.groups.iter().all(|g| {
                g.iter()
                    .all(|&a| hypers[a].rows.len() == hypers[g[0]].rows.len())
            }),
        "one hyperparameter table per arm, the same rows within a walk, a value per walker"
    );
    let starts = from::starts(&r.centre.x, r.radius, r.obj.sphere(), r.plan.seed, w);
    if let Some(shard) = r.shard {
        return walk_shard(r, shard, &starts, hypers, ctx);
    }

    let t_walk = Instant::now();
    let (ends, walks) = walk_arms(r, &starts, hypers, ctx)?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();
    ctx.timings.add("walk", seconds_walk);
    finish(r, hypers, &starts, &ends, walks, seconds_walk, ctx)
}

/// The files of a whole escape run from the end states of all its arms (arm a's walkers at
/// a·W..(a+1)·W): one run, or merged shards.
fn finish(
    r: &Resolved,
    hypers: &[Hyper],
    starts: &[f64],
    ends: &EndStates,
    walks: Vec<serde_json::Value>,
    seconds_walk: f64,
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let (n, w) = (r.obj.dim(), r.walkers);

    // Every walker that did not diverge is polished: converged or not, the critical point its
    // end state polishes to (within the drift limit) is where it went; one that is still on a
    // slope fails to polish and counts as unsettled.
    let eligible: Vec<bool> = ends.status.iter().map(|&s| s != Status::Diverged).collect();
    let opts = CatalogueOptions::default();
    let (cat, secs) = critical::catalogue_timed(r.obj.as_ref(), &ends.x, &eligible, &opts)?;
    critical::files::add_timings(&mut ctx.timings, &secs);
    let start_point = ctx.timings.time("polish", || {
        start_point(r.obj.as_ref(), &r.centre.x, &cat, &opts)
    });

    // Beyond the escape criterion from the start point (see tables::classify_ends).
    let start_at = start_point.map(|id| (cat.points[id].x.clone(), cat.points[id].f));
    let away = |w: usize| {
        let Some((x0, f0)) = &start_at else {
            return false;
        };
        match r.criterion {
            Criterion::Radius(rad) => {
                let d2: f64 = ends
                    .point(w)
                    .iter()
                    .zip(x0)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                d2.sqrt() >= rad
            }
            Criterion::Drop(d) => f0 - ends.f[w] >= d,
        }
    };
    let ends_class = tables::classify_ends(ends, &cat, start_point, &away);
    let swept = tables::swept(r, hypers);
    let summaries = tables::summarise(r, ends, &ends_class);

    let folder = ctx.folder;
    folder.write_positions("starts.npy", w, n, starts, "f64")?;
    folder.write_positions("end_states.npy", ends.len(), n, &ends.x, ends.precision)?;
    critical::files::write(folder, n, &cat, &r.obj.spec(), &mut ctx.timings)?;
    tables::write_escape_csv(&folder.join("escape.csv"), &summaries)?;
    tables::write_attractors_csv(&folder.join("attractors.csv"), r, &cat)?;
    tables::write_times_csv(&folder.join("escape_times.csv"), r, ends, &cat, &swept)?;
    folder.wrote(&["escape.csv", "attractors.csv", "escape_times.csv"].map(String::from));

    let resolved = resolved_of(r, &summaries, walks, &swept);
    let results = results_of(&cat, start_point, ends, seconds_walk);
    // The figures read the manifest's view of the run (also what `plot` redraws them from).
    let mut view = serde_json::Value::Object(results.clone());
    view["resolved"] = serde_json::to_value(&resolved)?;
    let mut figures = vec!["escape_ecdf".to_string(), "escape_ends".to_string()];
    figures.extend(swept.iter().map(|s| format!("escape_vs_{}", s.key)));
    ctx.timings
        .time("figures", || tables::draw_figures(folder.path(), &view))?;
    folder.wrote(
        &figures
            .iter()
            .flat_map(|f| [format!("{f}.png"), format!("{f}.svg")])
            .collect::<Vec<_>>(),
    );
    let mut summary = summary_lines(r, &summaries);
    // An arm whose walkers mostly diverged at a step above 1/curvature: its escape rate is
    // a blow-up, not an escape; say which step would be stable (the arms' steps are the
    // comparison, so none is changed).
    for (a, arm) in r.arms.iter().enumerate() {
        let diverged = ends.status[a * w..(a + 1) * w]
            .iter()
            .filter(|&&s| s == Status::Diverged)
            .count();
        if let Some(note) =
            crate::sample::diverged_step_note(r.obj.as_ref(), &arm.opt, starts, diverged, w)
        {
            summary.push(format!("note: arm {}: {note}", arm.label));
        }
    }
    Ok(Report {
        resolved,
        results,
        precision: ends.precision,
        summary,
    })
}

/// The manifest's results of an escape run: the start's own critical point, speed, end states
/// and the catalogue's summary.
fn results_of(
    cat: &Catalogue,
    start_point: Option<usize>,
    ends: &EndStates,
    seconds_walk: f64,
) -> serde_json::Map<String, serde_json::Value> {
    let mut results = serde_json::Map::new();
    results.insert(
        "start_point".into(),
        start_point.map_or(serde_json::Value::Null, |id| {
            let p = &cat.points[id];
            serde_json::json!({"id": id, "f": p.f, "kind": p.kind.as_str(), "index": p.index})
        }),
    );
    results.insert(
        "walker_steps_per_s".into(),
        crate::sample::walker_steps_per_s(ends, seconds_walk).into(),
    );
    results.insert(
        "status_counts".into(),
        crate::sample::status_counts(ends).into(),
    );
    results.insert("critical_points".into(), critical::files::summary(cat));
    results.insert("coverage".into(), critical::files::coverage_json(cat));
    results.insert(
        "ends".into(),
        ENDS.iter().map(|e| e.name()).collect::<Vec<_>>().into(),
    );
    results
}

/// The manifest's `resolved` of an escape run.
fn resolved_of(
    r: &Resolved,
    summaries: &[tables::ArmSummary],
    walks: Vec<serde_json::Value>,
    swept: &[tables::Swept],
) -> run::Resolved {
    let arms: Vec<serde_json::Value> = r
        .arms
        .iter()
        .zip(summaries)
        .map(|(a, s)| {
            serde_json::json!({
                "label": a.label,
                "method": a.opt.spec(),
                "rule": a.opt.rule.name,
                "walk": a.group,
                "escaped": s.escaped,
                "escape_rate": s.rate,
                "median_steps": s.median,
            })
        })
        .collect();
    let rest = serde_json::json!({
        "from": r.centre,
        "radius": r.radius,
        "criterion": r.criterion,
        "escape_radius_from": "each walker's own start",
        "walkers_per_arm": r.walkers,
        "arms": arms,
        "walks": walks,
        "swept": swept.iter().map(|s| &s.key).collect::<Vec<_>>(),
        "plan": r.plan,
    });
    run::Resolved {
        objective: Some(r.obj.spec()),
        dim: Some(r.obj.dim()),
        sphere: r.obj.sphere(),
        rest: rest.as_object().cloned().unwrap_or_default(),
    }
}

/// One line per arm: escape rate with its interval, median escape step, where walkers ended.
fn summary_lines(r: &Resolved, summaries: &[tables::ArmSummary]) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<36} {:>8} {:>17} {:>8}  ended",
        "arm", "escaped", "95% interval", "median"
    )];
    for (arm, s) in r.arms.iter().zip(summaries) {
        let ends: Vec<String> = ENDS
            .iter()
            .filter(|&&e| s.share(e) > 0.0)
            .map(|&e| format!("{} {:.1}%", e.name(), 100.0 * s.share(e)))
            .collect();
        lines.push(format!(
            "{:<36} {:>7.1}% {:>7.1}%..{:>5.1}% {:>8}  {}",
            arm.label,
            100.0 * s.rate,
            100.0 * s.rate_lo,
            100.0 * s.rate_hi,
            s.median.map_or("-".to_string(), |m| format!("{m}")),
            ends.join("  ")
        ));
    }
    lines
}

/// Redraws every figure of an escape run folder from its files (escape.csv, escape_times.csv,
/// and manifest.json for arm labels, the step budget and the title when it is there).
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let manifest = if dir.join("manifest.json").exists() {
        Manifest::read_of(dir, "escape")?.to_value()
    } else {
        serde_json::Value::Null
    };
    tables::draw_figures(dir, &manifest)
}

/// Runs each walk group as one backend walk over its arms' walkers (starts repeated per arm,
/// hyperparameter rows concatenated) and returns the end states in arm order (arm a's walkers
/// at a·W..(a+1)·W) with a description of each walk. Walker ids (the noise streams) are laid
/// out group after group, so every walker of the run draws its own noise.
fn walk_arms(
    r: &Resolved,
    starts: &[f64],
    hypers: &[Hyper],
    ctx: &Ctx,
) -> anyhow::Result<(EndStates, Vec<serde_json::Value>)> {
    let (n, w) = (r.obj.dim(), r.walkers);
    let mut all = EndStates::new(w * r.arms.len(), n);
    let mut walks = Vec::new();
    let mut first_id = 0usize;
    let per_walker = u64::from(r.plan.max_steps) + 1;
    for group in &r.groups {
        let gw = w * group.len();
        let group_starts = starts.repeat(group.len());
        let rows = hypers[group[0]].rows.len();
        let hyper = Hyper {
            rows: (0..rows)
                .map(|k| {
                    group
                        .iter()
                        .flat_map(|&a| hypers[a].rows[k].iter().copied())
                        .collect()
                })
                .collect(),
        };
        let plan = WalkPlan {
            first_walker: first_id as u32,
            ..r.plan.clone()
        };
        let base = first_id as u64 * per_walker;
        let t = Instant::now();
        let ends = ctx.walk_instances(
            &format!("group-{first_id}"),
            &[r.obj.as_ref()],
            &r.arms[group[0]].opt,
            &plan,
            &group_starts,
            &hyper,
            base,
        )?;
        walks.push(serde_json::json!({
            "rule": r.arms[group[0]].opt.rule.name,
            "arms": group,
            "walkers": gw,
            "first_walker_id": first_id,
            "seconds": t.elapsed().as_secs_f64(),
        }));
        all.precision = ends.precision;
        for (j, &a) in group.iter().enumerate() {
            for k in 0..w {
                let (src, dst) = (j * w + k, a * w + k);
                all.set(
                    dst,
                    ends.point(src),
                    ends.f[src],
                    ends.grad_norm[src],
                    ends.steps[src],
                    ends.status[src],
                    ends.escape[src],
                );
            }
        }
        first_id += gw;
    }
    Ok((all, walks))
}

/// The catalogue point the starting point itself polishes to (within the drift limit), if any:
/// walkers that end there are counted as `at_start`.
fn start_point(
    obj: &dyn Objective,
    centre: &[f64],
    cat: &Catalogue,
    opts: &CatalogueOptions,
) -> Option<usize> {
    let p = critical::polish(obj, centre, &opts.polish).ok()?;
    let tol = critical::cluster::tolerance(&p.x, opts.pos_tol);
    cat.points
        .iter()
        .filter(|q| {
            q.x.iter()
                .zip(&p.x)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                <= tol
        })
        .min_by(|a, b| {
            let d = |q: &critical::CriticalPoint| {
                q.x.iter()
                    .zip(&p.x)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            };
            d(a).total_cmp(&d(b))
        })
        .map(|q| q.id)
}

/// The escape step of a walker, None when it never escaped.
pub fn escape_step(e: u32) -> Option<u32> {
    (e != NO_ESCAPE).then_some(e)
}

/// Whether a point counts as the lowest minimum: a minimum whose f is within 1e-8·max(1, |f|)
/// of the lowest minimum the run reached (ties such as Himmelblau's four f = 0 minima all count).
pub fn lowest_minima(cat: &Catalogue) -> Vec<bool> {
    let fmin = cat
        .points
        .iter()
        .filter(|p| p.kind == Kind::Minimum)
        .map(|p| p.f)
        .fold(f64::INFINITY, f64::min);
    cat.points
        .iter()
        .map(|p| p.kind == Kind::Minimum && p.f - fmin <= 1e-8 * fmin.abs().max(1.0))
        .collect()
}

/// A number to four significant digits, shortest form (for titles and labels).
pub fn short(v: f64) -> String {
    let r: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    format!("{r}")
}

/// One walk per arm of the shard's walkers lo..hi, each with the ids one run gives them (arm j
/// of a walk group at first_id + j·W + w), written as end_states.npy (arm after arm) and
/// walkers.csv (arm,walker,f,grad_norm,steps,status,escape_step); merge makes the rest.
fn walk_shard(
    r: &Resolved,
    shard: Shard,
    starts: &[f64],
    hypers: &[Hyper],
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let (n, w) = (r.obj.dim(), r.walkers);
    let range = shard.range(w);
    let mut all = EndStates::new(range.len() * r.arms.len(), n);
    let mut first_id = 0usize;
    let t_walk = Instant::now();
    for group in &r.groups {
        for (j, &a) in group.iter().enumerate() {
            let hyper = hypers[a].slice(range.clone());
            let plan = WalkPlan {
                first_walker: (first_id + j * w + range.start) as u32,
                ..r.plan.clone()
            };
            let ends = ctx.walk_instances(
                &format!("arm-{a}"),
                &[r.obj.as_ref()],
                &r.arms[a].opt,
                &plan,
                &starts[range.start * n..range.end * n],
                &hyper,
                0,
            )?;
            all.precision = ends.precision;
            for k in 0..range.len() {
                all.set(
                    a * range.len() + k,
                    ends.point(k),
                    ends.f[k],
                    ends.grad_norm[k],
                    ends.steps[k],
                    ends.status[k],
                    ends.escape[k],
                );
            }
        }
        first_id += w * group.len();
    }
    let seconds_walk = t_walk.elapsed().as_secs_f64();
    ctx.timings.add("walk", seconds_walk);
    let folder = ctx.folder;
    folder.write_positions("end_states.npy", all.len(), n, &all.x, all.precision)?;
    let mut csv = Csv::new("arm,walker,f,grad_norm,steps,status,escape_step");
    for a in 0..r.arms.len() {
        for (k, id) in range.clone().enumerate() {
            let i = a * range.len() + k;
            csv.row(&[
                a.to_string(),
                id.to_string(),
                output::num(all.f[i]),
                output::num(all.grad_norm[i]),
                all.steps[i].to_string(),
                all.status[i].name().to_string(),
                if all.escape[i] == crate::walk::state::NO_ESCAPE {
                    String::new()
                } else {
                    all.escape[i].to_string()
                },
            ]);
        }
    }
    folder.write_csv("walkers.csv", &csv)?;
    let results = serde_json::json!({
        "shard": {"index": shard.index, "count": shard.count, "walkers": [range.start, range.end], "unit": "walkers of every arm"},
        "status_counts": crate::sample::status_counts(&all),
    });
    Ok(Report {
        resolved: run::Resolved {
            objective: Some(r.obj.spec()),
            dim: Some(n),
            sphere: r.obj.sphere(),
            rest: serde_json::Map::new(),
        },
        results: results.as_object().cloned().unwrap_or_default(),
        precision: all.precision,
        summary: vec![format!(
            "shard {} of walkers {}..{} of every arm (walk {seconds_walk:.3} s): join the {} shards with `saddlescope merge --out DIR SHARD_DIR...`",
            shard.text(),
            range.start,
            range.end,
            shard.count
        )],
    })
}

/// `saddlescope merge` of the shard folders of one escape run (checked and in shard order):
/// every arm's walkers are put back at a·W + w and go through [`finish`] as one run's do.
pub fn merge(
    out: &Path,
    shards: &[run::merge::ShardFolder],
    inv: &run::Invocation,
) -> anyhow::Result<run::Finished> {
    let mut spec: EscapeSpec = run::merge::shared_spec(shards)?;
    spec.shard = None;
    let r = spec.resolve()?;
    spec.memory(&r).check()?;
    let (n, w, arms) = (r.obj.dim(), r.walkers, r.arms.len());
    let mut all = EndStates::new(w * arms, n);
    let names: Vec<&str> = (0..4).map(|c| Status::from_code(c).name()).collect();
    for (i, s) in shards.iter().enumerate() {
        let range = s.shard.range(w);
        if s.walkers != range {
            return Err(SpecError::folder(
                &s.dir,
                format!(
                    "shard {} holds walkers {:?}; it must hold {range:?}",
                    s.shard.text(),
                    s.walkers
                ),
            )
            .into());
        }
        let (x, precision) =
            run::merge::read_npy_positions(&s.dir, "end_states.npy", range.len() * arms, n)?;
        if i > 0 && precision != all.precision {
            return Err(SpecError::folder(
                &s.dir,
                "its end states are in another precision than the other shards'",
            )
            .into());
        }
        all.precision = precision;
        let t = crate::table::Table::read(
            &s.dir,
            "walkers.csv",
            &[
                "arm",
                "walker",
                "f",
                "grad_norm",
                "steps",
                "status",
                "escape_step",
            ],
        )?;
        t.expect_rows(
            range.len() * arms,
            "manifest.json (shard.walkers, of every arm)",
        )?;
        for row in 0..t.len() {
            let (a, k) = (row / range.len(), row % range.len());
            if t.usize(row, "arm")? != a || t.usize(row, "walker")? != range.start + k {
                return Err(t
                    .bad(
                        row,
                        format!("where arm {a}, walker {} belongs", range.start + k),
                    )
                    .into());
            }
            let st = t.choice(row, "status", &names)?;
            let steps = u32::try_from(t.usize(row, "steps")?)
                .map_err(|_| t.bad(row, "steps is more than a walk takes"))?;
            let escape = match t.opt_usize(row, "escape_step")? {
                None => crate::walk::state::NO_ESCAPE,
                Some(e) => u32::try_from(e)
                    .map_err(|_| t.bad(row, "escape_step is more than a walk takes"))?,
            };
            all.set(
                a * w + range.start + k,
                &x[row * n..(row + 1) * n],
                t.f64(row, "f")?,
                t.f64(row, "grad_norm")?,
                steps,
                (0..4)
                    .map(Status::from_code)
                    .find(|c| c.name() == st)
                    .unwrap_or(Status::Running),
                escape,
            );
        }
    }
    let hypers: Vec<Hyper> = r.arms.iter().map(|a| arm_hyper(&a.opt, w)).collect();
    let starts = from::starts(&r.centre.x, r.radius, r.obj.sphere(), r.plan.seed, w);
    // The walks one run makes, as it would describe them (their seconds: the shards').
    let seconds = run::merge::walk_seconds(shards);
    let mut first_id = 0;
    let walks: Vec<serde_json::Value> = r
        .groups
        .iter()
        .map(|group| {
            let v = serde_json::json!({
                "rule": r.arms[group[0]].opt.rule.name,
                "arms": group,
                "walkers": w * group.len(),
                "first_walker_id": first_id,
                "seconds": seconds * group.len() as f64 / arms as f64,
            });
            first_id += w * group.len();
            v
        })
        .collect();
    let folder = run::RunFolder::create(Some(out), EscapeSpec::NAME, &spec.objective)?;
    let backend = Backend::cpu();
    let mut ctx = Ctx::new(&backend, &folder, &run::Silent);
    ctx.timings.add("walk", seconds);
    let done = finish(&r, &hypers, &starts, &all, walks, seconds, &mut ctx);
    run::merge::complete(&spec, &r, ctx, done, shards, &folder, inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(optimizers: &[&str], from: &str, walkers: usize, steps: u32) -> EscapeSpec {
        EscapeSpec {
            objective: "saddle".into(),
            from: from.into(),
            radius: Some(0.0),
            escape_radius: Some(1.0),
            escape_drop: None,
            optimizers: optimizers.iter().map(|s| s.to_string()).collect(),
            walkers,
            walk: WalkOptions {
                steps,
                ..WalkOptions::default()
            },
            shard: None,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("saddlescope-escape-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// First t with y0 ((1 + 2 lr)^t - 1) >= R: GD on x^2 - y^2 from (0, y0) moves y by the
    /// factor 1 + 2 lr per step, and the distance is measured from the start.
    fn gd_escape(lr: f64, y0: f64, r: f64) -> u32 {
        let mut t = 0;
        while y0 * ((1.0 + 2.0 * lr).powi(t as i32) - 1.0) < r {
            t += 1;
        }
        t
    }

    #[test]
    fn arms_group_by_rule_and_resolve_defaults() {
        let r = spec(
            &["gd:lr=0.1", "pgd", "gd:lr=0.2", "sgd", "pgd:r=0.1"],
            "saddle",
            4,
            10,
        )
        .resolve()
        .unwrap();
        assert_eq!(r.groups, vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert_eq!(
            r.arms.iter().map(|a| a.group).collect::<Vec<_>>(),
            [0, 1, 0, 2, 1]
        );
        assert_eq!(r.plan.grad_tol, DEFAULT_GRAD_TOL);
        assert!(r.plan.settle_after_escape);
        let mut s = spec(&["gd"], "point:x=3;4", 4, 10);
        s.radius = None;
        s.escape_radius = None;
        let r = s.resolve().unwrap();
        // |x| = 5: r0 = 5e-3, R = 0.5.
        assert!((r.radius - 5e-3).abs() < 1e-15);
        assert_eq!(r.criterion, Criterion::Radius(0.5));
        for (bad, needle) in [
            (spec(&["gd", "gd:lr=0.01"], "saddle", 4, 10), "same arm"),
            (spec(&[], "saddle", 4, 10), "--optimizers"),
            (spec(&["gd"], "saddle", 0, 10), "--walkers"),
            (spec(&["gd"], "saddle", 4, 0), "--steps"),
            (spec(&["gd"], "nowhere", 4, 10), "unknown start"),
        ] {
            let e = bad.resolve().err().unwrap().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    /// A hyperparameter spread across an arm's walkers (built by hand here) reaches every walker:
    /// each one escapes at the step its own learning rate predicts, escape_times.csv records the
    /// value per walker, and escape_vs_lr is drawn and redrawn identically from the files.
    #[test]
    fn swept_learning_rates_reach_each_walker_and_their_figure_redraws() {
        let (w, y0, big_r) = (48usize, 1e-2, 1.0);
        let s = spec(&["gd", "pgd:lr=0.05"], "point:x=0;0.01", w, 3000);
        let r = s.resolve().unwrap();
        let lrs: Vec<f64> = (0..w)
            .map(|k| 1e-3 * 100f64.powf(k as f64 / (w - 1) as f64))
            .collect();
        let mut gd = arm_hyper(&r.arms[0].opt, w);
        gd.rows[0] = lrs.clone();
        let hypers = vec![gd, arm_hyper(&r.arms[1].opt, w)];
        let dir = tmp("sweep");
        let backend = Backend::cpu();
        let folder = run::RunFolder::create(Some(&dir), "escape", "saddle").unwrap();
        let mut ctx = Ctx::new(&backend, &folder, &run::Silent);
        let report = run_with(&s, &r, &hypers, &mut ctx).unwrap();
        run::complete(&s, ctx, report, &run::Invocation::default()).unwrap();
        let times = std::fs::read_to_string(dir.join("escape_times.csv")).unwrap();
        let mut lines = times.lines();
        assert_eq!(lines.next().unwrap(), "arm,walker,escape_step,point,lr");
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 2 * w);
        for (k, &lr) in lrs.iter().enumerate() {
            let row = &rows[k];
            assert_eq!((row[0], row[1]), ("0", k.to_string().as_str()));
            assert_eq!(row[4].parse::<f64>().unwrap().to_bits(), lr.to_bits());
            let want = gd_escape(lr, y0, big_r);
            // Keep clear of cases where f64 rounding decides (none for these values).
            let margin = |t: u32| (y0 * ((1.0 + 2.0 * lr).powi(t as i32) - 1.0) - big_r).abs();
            assert!(margin(want) > 1e-9 && margin(want - 1) > 1e-9);
            assert_eq!(row[2].parse::<u32>().unwrap(), want, "lr {lr}");
        }
        // The constant arm carries its own lr in the column.
        assert!(rows[w..].iter().all(|r| r[0] == "1" && r[4] == "0.05"));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["resolved"]["swept"], serde_json::json!(["lr"]));
        assert_eq!(m["resolved"]["arms"][0]["escaped"], w);
        let figures = [
            "escape_vs_lr.svg",
            "escape_vs_lr.png",
            "escape_ecdf.svg",
            "escape_ends.svg",
        ];
        let before: Vec<Vec<u8>> = figures
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        let svg = String::from_utf8_lossy(&before[0]);
        assert!(svg.contains("lr (log scale)") && svg.contains("escape rate"));
        for f in figures {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        redraw(&dir).unwrap();
        for (f, b) in figures.iter().zip(&before) {
            assert_eq!(&std::fs::read(dir.join(f)).unwrap(), b, "{f}");
        }
        if std::env::var_os("SADDLESCOPE_KEEP_FIGURES").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        } else {
            eprintln!("figures kept in {}", dir.display());
        }
    }

    #[test]
    fn redraw_names_a_folder_without_an_escape_run() {
        let dir = tmp("empty");
        let e = redraw(&dir).unwrap_err().to_string();
        assert!(
            e.contains("escape.csv") && e.contains("saddlescope escape"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
