//! `saddlescope basins`: basin-of-attraction pictures on 2-D slices of N-dimensional landscapes.
//! Every pixel is a walker started on the slice (it then moves in all N dimensions); end states
//! go through the critical-point pipeline and each pixel gets the label of the critical point
//! it reached (its id: rank in f among the points reached), or -1.
//!
//! [`plane`] resolves the slice and its pixel grid, [`stats`] the basin fractions and basin
//! entropies; this file runs the walk and writes the folder; [`redraw`] redraws its figures
//! from its files.

pub mod attract;
pub mod plane;
pub mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::critical::load::StoredCatalogue;
use crate::critical::mirror::MirrorCheck;
use crate::critical::{self, cluster, Catalogue, CatalogueOptions};
use crate::figure::basins::{basin_figures, AttractorRow, BasinPicture, MarkedPoint};
use crate::objective::{self, Objective};
use crate::output::{self, Csv};
use crate::rules::{self, Optimizer};
use crate::run::memory::{Estimate, Need};
use crate::run::shard::Shard;
use crate::run::{self, Command, Ctx, Manifest, Report, RunFolder, WalkOptions};
use crate::spec::SpecError;
use crate::walk::state::{Status, WalkerState, CT_STATUS};
use crate::walk::{cpu, EndStates, WalkPlan};

pub use plane::{Extent, Grid, Plane, PlaneArg};

/// Everything `basins` needs, as the user gave it (the command line's flags; the manifest's
/// `spec`).
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[command(allow_negative_numbers = true)]
pub struct BasinsSpec {
    /// Objective spec, e.g. himmelblau, field:n=100,features=256
    #[arg(long)]
    pub objective: String,
    /// Optimizer spec, e.g. gd:lr=0.005
    #[arg(long)]
    pub optimizer: String,
    /// Pixels: 512 (512 x 512) or WxH, e.g. 800x600. One walker per pixel.
    #[arg(long, default_value = "512")]
    pub resolution: String,
    /// Slice coordinates shown: lo,hi (both axes) or x0,x1,y0,y1 (write --extent=-3,3).
    #[arg(long, allow_hyphen_values = true)]
    #[serde(default)]
    pub extent: Option<String>,
    /// random[;center=c1,c2,..] | center=c1,..;u=u1,..;v=v1,.. | points=a,b,c (with
    /// --catalogue). Default for N = 2: the coordinate plane.
    #[arg(long, allow_hyphen_values = true)]
    #[serde(default)]
    pub plane: Option<String>,
    /// Folder of an earlier `sample` run: its critical points for --plane points=a,b,c, and
    /// marked on the landscape where they lie near the slice.
    #[arg(long)]
    #[serde(default)]
    pub catalogue: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub walk: WalkOptions,
    /// Box side in pixels for the basin entropy S_b and boundary basin entropy S_bb
    /// [default: 5, or the image's shorter side when that is smaller]
    #[arg(long = "box")]
    #[serde(rename = "box")]
    pub box_size: Option<usize>,
    /// Draw this many walker paths (CPU twin, spread over the grid) on landscape.png.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub paths: usize,
    /// Shade basins.png by steps to converge (darker = more steps, log scale).
    #[arg(long)]
    #[serde(default)]
    pub shade_steps: bool,
    /// Walk only shard K of N of the pixels (K/N, in walker = row-major pixel order);
    /// `saddlescope merge` joins the N folders into the folder of one run.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// At most this many --paths.
pub const MAX_PATHS: usize = 64;
/// A critical point is drawn on the landscape when it lies within this fraction of the
/// extent's longer side from the slice (0 in N = 2, where the slice is the whole space).
pub const NEAR_SLICE: f64 = 0.02;

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub opt: Optimizer,
    pub plane: Plane,
    pub grid: Grid,
    pub plan: WalkPlan,
    pub stored: Option<StoredCatalogue>,
    /// The slice of pixels this run walks (None: all).
    pub shard: Option<Shard>,
}

/// The basin entropy's box side unless `--box` gives one.
pub const DEFAULT_BOX: usize = 5;

impl BasinsSpec {
    /// The entropy's box side: `--box`, or [`DEFAULT_BOX`] capped at the image's shorter side
    /// (at least 2; on an image narrower than that the entropy has no box and says the grid is
    /// too small).
    pub fn box_side(&self, grid: &plane::Grid) -> usize {
        self.box_size
            .unwrap_or_else(|| DEFAULT_BOX.min(grid.width.min(grid.height)).max(2))
    }

    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let opt = rules::parse(&self.optimizer)?;
        opt.check_objective(obj.as_ref())?;
        crate::critical::check_dim(
            obj.as_ref(),
            "basins labels every pixel by its critical point",
        )?;
        let grid = plane::parse_resolution(&self.resolution)?;
        let extent = self
            .extent
            .as_deref()
            .map(plane::parse_extent)
            .transpose()?;
        let arg = PlaneArg::parse(self.plane.as_deref())?;
        let stored = self
            .catalogue
            .as_deref()
            .map(critical::load::read)
            .transpose()?;
        if let Some(cat) = &stored {
            if cat.objective != obj.spec() {
                return Err(SpecError::Invalid(format!(
                    "--catalogue {} was made for objective '{}', not '{}'",
                    self.catalogue.as_deref().unwrap_or(Path::new("")).display(),
                    cat.objective,
                    obj.spec()
                )));
            }
        }
        let plane = Plane::build(
            &arg,
            &plane::PlaneInputs {
                obj: obj.as_ref(),
                extent,
                grid,
                seed: self.walk.seed,
                catalogue: stored.as_ref(),
            },
        )?;
        let plan = self.walk.plan()?;
        let side = grid.width.min(grid.height);
        if let Some(b) = self.box_size.filter(|&b| b < 2 || b > side) {
            return Err(SpecError::flag(
                "--box",
                b,
                if side < 2 {
                    format!(
                        "none: the image's shorter side is {side} pixel, too small for boxes of \
                         2 or more (leave out --box, and the entropy reports a grid too small)"
                    )
                } else {
                    format!("2..={side} pixels (the image's shorter side)")
                },
            ));
        }
        if self.paths > MAX_PATHS.min(grid.pixels()) {
            return Err(SpecError::flag(
                "--paths",
                self.paths,
                format!("0..={}", MAX_PATHS.min(grid.pixels())),
            ));
        }
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if let Some(s) = shard {
            s.check(grid.pixels(), "pixels")?;
        }
        Ok(Resolved {
            obj,
            opt,
            plane,
            grid,
            plan,
            stored,
            shard,
        })
    }
}

impl Command for BasinsSpec {
    const NAME: &'static str = "basins";
    type Resolved = Resolved;

    fn resolve(&self) -> Result<Resolved, SpecError> {
        BasinsSpec::resolve(self)
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
        vec![&r.opt]
    }
    fn memory(&self, r: &Resolved) -> Need {
        let (px, n) = (r.grid.pixels() as u64, r.obj.dim() as u64);
        let mut estimate = Estimate::new();
        // Every pixel's start is made; a shard walks its slice and labels and draws nothing.
        let walked = r
            .shard
            .map_or(px, |s| s.range(r.grid.pixels()).len() as u64);
        estimate
            .add("start positions", px, n.saturating_mul(8))
            .walkers(
                walked,
                n,
                r.opt.rule.slots() as u64,
                r.opt.hyper().len() as u64,
            );
        if r.shard.is_none() {
            estimate
                .catalogue(px, n)
                // labels, steps, the landscape, and the figures' RGB bitmaps (basins, landscape,
                // annotated, at up to 4 x 4 screen pixels per grid pixel).
                .add("label, step and landscape images", px, 4 + 4 + 8)
                .add("figure bitmaps", px, 3 * 3 * 16);
        }
        Need {
            what: format!(
                "basins --resolution {}x{} at N = {n}",
                r.grid.width, r.grid.height
            ),
            estimate,
            valid: "a lower --resolution".into(),
        }
    }
    fn check(&self, r: &Resolved, backend: &Backend) -> Result<(), SpecError> {
        backend.check(r.obj.as_ref(), &r.opt)
    }
    fn describe(&self, r: &Resolved) -> String {
        let mut s = format!(
            "{}x{} walkers of {} on {} (N = {}), {} plane",
            r.grid.width,
            r.grid.height,
            r.opt.spec(),
            r.obj.spec(),
            r.obj.dim(),
            r.plane.mode
        );
        for note in &r.plane.notes {
            s.push_str(&format!("\nnote: {note}"));
        }
        s
    }
    fn work(&self, r: &Resolved) -> u64 {
        r.grid.pixels() as u64 * (u64::from(r.plan.max_steps) + 1)
    }
    fn run(&self, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
        run(self, r, ctx)
    }
}

/// A critical point near the slice, for the landscape figure and the manifest.
#[derive(Debug, Clone, serde::Serialize)]
struct SlicePoint {
    /// "attractor" (reached in this run), "catalogue" (from --catalogue) or "search"
    /// (Newton from a grid on the slice, N = 2 only).
    source: &'static str,
    id: Option<usize>,
    kind: String,
    index: usize,
    f: f64,
    s: f64,
    t: f64,
    distance: f64,
    #[serde(skip)]
    x: Vec<f64>,
}

/// What the walk and the labelling left: the pieces the files and the summary are made of.
struct Labelled {
    ends: EndStates,
    cat: Catalogue,
    label_stats: attract::LabelStats,
    /// H x W, row 0 at the top.
    labels: Vec<i32>,
    fractions: Vec<stats::Fraction>,
    entropy: stats::Entropy,
    seconds_walk: f64,
    /// The symmetry check of odd objectives.
    mirror: Option<MirrorCheck>,
    /// Walkers of an f32 walk labelled from the f32 resolution floor (`critical::floor`).
    at_floor: critical::floor::AtFloor,
}

/// Walks one walker per pixel and labels each by the critical point it reached.
fn walk_and_label(
    spec: &BasinsSpec,
    r: &Resolved,
    starts: &[f64],
    key: &str,
    ctx: &mut Ctx,
) -> anyhow::Result<Labelled> {
    let grid = r.grid;
    // Ranges in the optimizer spec spread over the pixels in walker (row-major pixel) order.
    let hyper = r.opt.hyper_rows(grid.pixels());
    let t_walk = Instant::now();
    let ends = ctx.walk_instances(key, &[r.obj.as_ref()], &r.opt, &r.plan, starts, &hyper, 0)?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();
    ctx.timings.add("walk", seconds_walk);
    label(spec, r, ends, seconds_walk, ctx)
}

/// Labels every pixel's end state by the critical point it reached (one run, or merged shards).
fn label(
    spec: &BasinsSpec,
    r: &Resolved,
    ends: EndStates,
    seconds_walk: f64,
    ctx: &mut Ctx,
) -> anyhow::Result<Labelled> {
    let grid = r.grid;
    let at_floor = critical::floor::timed(r.obj.as_ref(), &ends, &mut ctx.timings);
    let eligible = at_floor.eligible(&ends.status);
    let (cat, label_stats) = ctx.timings.time("label", || {
        attract::label(
            r.obj.as_ref(),
            &ends.x,
            &eligible,
            &ends.grad_norm,
            &CatalogueOptions::default(),
        )
    })?;
    let labels: Vec<i32> = cat.labels().iter().map(|&l| l as i32).collect();
    let fractions = stats::fractions(&labels, cat.points.len());
    let entropy = stats::basin_entropy(&labels, grid.width, grid.height, spec.box_side(&grid));
    let pos_tol = CatalogueOptions::default().pos_tol;
    let mirror = MirrorCheck::for_objective(r.obj.as_ref(), &cat, pos_tol);
    Ok(Labelled {
        ends,
        cat,
        label_stats,
        labels,
        fractions,
        entropy,
        seconds_walk,
        mirror,
        at_floor,
    })
}

/// Runs a resolved basins spec and writes its files.
pub fn run(spec: &BasinsSpec, r: &Resolved, ctx: &mut Ctx) -> anyhow::Result<Report> {
    let starts = r.plane.starts(r.grid);
    if let Some(shard) = r.shard {
        return walk_shard(r, shard, &starts, ctx);
    }
    let l = walk_and_label(spec, r, &starts, "walk", ctx)?;
    if let Some((again, note)) = stable_step(spec, r, &starts, &l.ends) {
        let r2 = again.resolve()?;
        ctx.observer.finish();
        ctx.observer.line(&format!("note: {note}"));
        ctx.observer.start(
            "walking again",
            r2.grid.pixels() as u64 * (u64::from(r2.plan.max_steps) + 1),
        );
        let l = walk_and_label(&again, &r2, &starts, "walk-stable-step", ctx)?;
        let mut report = finish(&again, &r2, &starts, l, ctx)?;
        report.summary.push(format!("note: {note}"));
        return Ok(report);
    }
    finish(spec, r, &starts, l, ctx)
}

/// [`crate::sample::stable_default_step`] for a basins run: the spec to walk again with.
fn stable_step(
    spec: &BasinsSpec,
    r: &Resolved,
    starts: &[f64],
    ends: &EndStates,
) -> Option<(BasinsSpec, String)> {
    let (optimizer, note) = crate::sample::stable_default_step(
        &spec.optimizer,
        r.obj.as_ref(),
        &r.opt,
        starts,
        ends,
        "pixels",
    )?;
    let mut again = spec.clone();
    again.optimizer = optimizer;
    Some((again, note))
}

/// A shard's folder: its pixels' end states (end_states.npy, walkers.csv with global walker =
/// pixel ids), the shard in the manifest; labels, pictures and statistics are made by `merge`.
fn walk_shard(r: &Resolved, shard: Shard, starts: &[f64], ctx: &mut Ctx) -> anyhow::Result<Report> {
    let (n, range) = (r.obj.dim(), shard.range(r.grid.pixels()));
    let all = r.opt.hyper_rows(r.grid.pixels());
    let hyper = all.slice(range.clone());
    let plan = WalkPlan {
        first_walker: r.plan.first_walker + range.start as u32,
        ..r.plan.clone()
    };
    let t_walk = Instant::now();
    let ends = ctx.walk_instances(
        "walk",
        &[r.obj.as_ref()],
        &r.opt,
        &plan,
        &starts[range.start * n..range.end * n],
        &hyper,
        0,
    )?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();
    ctx.timings.add("walk", seconds_walk);
    ctx.folder
        .write_positions("end_states.npy", range.len(), n, &ends.x, ends.precision)?;
    run::merge::write_walker_rows(ctx.folder, range.start, &ends)?;
    let mut results = serde_json::Map::new();
    results.insert(
        "shard".into(),
        serde_json::json!({"index": shard.index, "count": shard.count, "walkers": [range.start, range.end]}),
    );
    results.insert(
        "status_counts".into(),
        crate::sample::status_counts(&ends).into(),
    );
    Ok(Report {
        resolved: resolved_of(r),
        results,
        precision: ends.precision,
        summary: vec![
            crate::sample::status_line(&ends, seconds_walk),
            format!(
                "shard {} of pixels {}..{}: join the {} shards with `saddlescope merge --out DIR SHARD_DIR...`",
                shard.text(),
                range.start,
                range.end,
                shard.count
            ),
        ],
    })
}

/// The manifest's `resolved` of a basins run.
fn resolved_of(r: &Resolved) -> run::Resolved {
    run::Resolved {
        objective: Some(r.obj.spec()),
        dim: Some(r.obj.dim()),
        sphere: r.obj.sphere(),
        rest: serde_json::json!({"optimizer": r.opt.spec(), "plan": r.plan})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

/// Writes a whole picture's files from its labelled end states (one run, or merged shards).
fn finish(
    spec: &BasinsSpec,
    r: &Resolved,
    starts: &[f64],
    l: Labelled,
    ctx: &mut Ctx,
) -> anyhow::Result<Report> {
    let (n, grid) = (r.obj.dim(), r.grid);
    // f on the slice: the start points are the slice's grid points.
    let (landscape, points, paths) = ctx.timings.time("landscape", || {
        let landscape: Vec<f64> = starts.par_chunks(n).map(|x| r.obj.value(x)).collect();
        (
            landscape,
            slice_points(r, &l.cat),
            record_paths(r, spec.paths),
        )
    });
    let folder = ctx.folder;
    let shape = [grid.height, grid.width];
    folder.write_npy("labels.npy", &shape, &l.labels)?;
    folder.write_npy("steps.npy", &shape, &l.ends.steps)?;
    folder.write_npy("landscape.npy", &shape, &landscape)?;
    let xs: Vec<f64> = l
        .cat
        .points
        .iter()
        .flat_map(|p| p.x.iter().copied())
        .collect();
    folder.write_npy("attractors.npy", &[l.cat.points.len(), n], &xs)?;
    write_basins_csv(&folder.join("basins.csv"), n, &l.cat, &l.fractions)?;
    folder.wrote(&["basins.csv".to_string()]);
    if !paths.is_empty() {
        write_paths_csv(&folder.join("paths.csv"), &paths)?;
        folder.wrote(&["paths.csv".to_string()]);
    }
    let figure = FigureMeta {
        title: r.obj.spec(),
        subtitle: format!(
            "{} · {}×{} walkers · {} plane",
            r.opt.spec(),
            grid.width,
            grid.height,
            r.plane.mode
        ),
        axes: r.plane.axes.clone(),
        shade_steps: spec.shade_steps,
    };
    ctx.timings.time("figures", || {
        draw(folder, r, &l, &landscape, &points, &paths, &figure)
    })?;
    let results = results_of(r, &l, &landscape, &points, &paths, &figure)?;
    let mut summary = summary_lines(&l);
    summary.extend(l.at_floor.note());
    summary.extend(
        crate::sample::diverged_step_note(
            r.obj.as_ref(),
            &r.opt,
            starts,
            l.ends.counts()[2].1,
            l.ends.len(),
        )
        .map(|note| format!("note: {note}")),
    );
    Ok(Report {
        resolved: resolved_of(r),
        results,
        precision: l.ends.precision,
        summary,
    })
}

/// basins.png, landscape.png and legend.png (and their SVGs), and basins_annotated.png.
fn draw(
    folder: &RunFolder,
    r: &Resolved,
    l: &Labelled,
    landscape: &[f64],
    points: &[SlicePoint],
    paths: &[WalkerPath],
    figure: &FigureMeta,
) -> anyhow::Result<()> {
    let rows = attractor_rows(&l.cat, &l.fractions);
    let marked: Vec<MarkedPoint> = points
        .iter()
        .map(|p| MarkedPoint {
            kind: p.kind.clone(),
            s: p.s,
            t: p.t,
        })
        .collect();
    let path_st: Vec<Vec<(f64, f64)>> = paths
        .iter()
        .map(|p| p.points.iter().map(|q| (q.1, q.2)).collect())
        .collect();
    let e = r.plane.extent;
    basin_figures(
        folder.path(),
        &BasinPicture {
            width: r.grid.width,
            height: r.grid.height,
            labels: &l.labels,
            steps: &l.ends.steps,
            shade_steps: figure.shade_steps,
            landscape,
            extent: [e.x0, e.x1, e.y0, e.y1],
            axes: [&figure.axes[0], &figure.axes[1]],
            title: &figure.title,
            subtitle: &figure.subtitle,
            attractors: &rows,
            points: &marked,
            paths: &path_st,
        },
    )?;
    let mut files: Vec<String> = ["basins", "landscape", "legend"]
        .iter()
        .flat_map(|f| [format!("{f}.png"), format!("{f}.svg")])
        .collect();
    files.push("basins_annotated.png".into());
    folder.wrote(&files);
    Ok(())
}

/// The manifest's own keys of a basins run.
fn results_of(
    r: &Resolved,
    l: &Labelled,
    landscape: &[f64],
    points: &[SlicePoint],
    paths: &[WalkerPath],
    figure: &FigureMeta,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let n = r.obj.dim();
    let finite: Vec<f64> = landscape
        .iter()
        .copied()
        .filter(|f| f.is_finite())
        .collect();
    let v = serde_json::json!({
        "plane": r.plane,
        "grid": {
            "width": r.grid.width,
            "height": r.grid.height,
            "pixel_to_point": PIXEL_TO_POINT,
            "labels_layout": "labels.npy, steps.npy and landscape.npy are H x W; [j, i] is column i of row j; row 0 is the TOP row of the image (largest t); walker id = j*W + i",
        },
        "walker_steps_per_s": crate::sample::walker_steps_per_s(&l.ends, l.seconds_walk),
        "status_counts": crate::sample::status_counts(&l.ends),
        "attractors": l.cat.points.len(),
        "f32_floor_walkers": l.at_floor.count,
        "critical_points": critical::files::summary(&l.cat),
        "coverage": critical::files::coverage_json(&l.cat),
        "labelling": l.label_stats,
        "statistics": {
            "fractions": l.fractions,
            "confidence": "95% Wilson score intervals, treating the pixels as a uniform random sample of the slice",
            "entropy": l.entropy,
            "entropy_reference": "Daza, Wagemakers, Georgeot, Guéry-Odelin, Sanjuán, Sci. Rep. 6, 31416 (2016); natural log; label -1 counts as one more outcome; partial boxes at the right and bottom edges are left out",
            "ln2": std::f64::consts::LN_2,
            "entropy_verdict_rule": format!("the log-2 criterion (S_bb > ln 2: fractal boundary) is judged only with at least {} boundary boxes (the standard error of S_bb is then at most 0.035) and {} boxes per outcome (basins about 10 boxes across, so boxes where three or more basins meet raise S_bb by under ln 2 / 20); otherwise the verdict is grid_too_small", stats::MIN_BOUNDARY_BOXES, stats::MIN_BOXES_PER_OUTCOME),
        },
        "landscape": {
            "f_min": finite.iter().copied().fold(f64::INFINITY, f64::min),
            "f_max": finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            "near_slice_tolerance": near_tolerance(&r.plane, n),
            "points": points,
            "paths": paths.iter().map(|p| serde_json::json!({"pixel": p.pixel, "steps": p.steps, "status": p.status.name(), "label_of_pixel": l.labels[p.pixel]})).collect::<Vec<_>>(),
            "paths_note": "paths are recorded with the CPU twin (f64, same random numbers) from the listed pixels and projected onto the slice; near a basin boundary the f64 path may end elsewhere than the f32 GPU walker",
        },
        "figure": figure,
    });
    let mut results = v.as_object().cloned().unwrap_or_default();
    if let Some(m) = &l.mirror {
        results.insert("symmetry".into(), m.to_json());
    }
    Ok(results)
}

/// The summary: end states, basin fractions (the largest 30), basin entropies.
fn summary_lines(l: &Labelled) -> Vec<String> {
    let mut lines = vec![
        crate::sample::status_line(&l.ends, l.seconds_walk),
        format!(
            "attractors: {}   basin fractions (95% Wilson intervals):",
            l.cat.points.len()
        ),
    ];
    const SHOWN: usize = 30;
    for fr in l.fractions.iter().take(SHOWN) {
        let what = usize::try_from(fr.label)
            .ok()
            .map(|k| &l.cat.points[k])
            .map_or("no attractor".to_string(), |p| {
                format!("{} (index {}) f = {:.6e}", p.kind, p.index, p.f)
            });
        lines.push(format!(
            "  {:>5}  {:>9} px  {:.4}  [{:.4}, {:.4}]  {what}",
            fr.label, fr.walkers, fr.fraction, fr.ci95.0, fr.ci95.1
        ));
    }
    if l.fractions.len() > SHOWN {
        lines.push(format!(
            "  … {} more rows in basins.csv",
            l.fractions.len() - SHOWN
        ));
    }
    // The pixels stand in for draws from the slice: the estimate counts the critical points
    // whose basins meet it (docs/coverage.md).
    lines.extend(l.cat.coverage().summary_lines());
    if let Some(m) = &l.mirror {
        lines.push(m.summary_line());
    }
    let e = &l.entropy;
    lines.push(format!(
        "basin entropy S_b = {:.4}, boundary basin entropy S_bb = {:.4} (boxes of {}x{} px: {} boxes, {} on a boundary, {} outcomes); {}",
        e.basin_entropy,
        e.boundary_basin_entropy,
        e.box_size,
        e.box_size,
        e.boxes,
        e.boundary_boxes,
        e.outcomes,
        boundary_remark(e)
    ));
    lines
}

/// What the log-2 criterion says, or why it cannot say anything on this grid.
fn boundary_remark(e: &stats::Entropy) -> String {
    match e.verdict {
        stats::BoundaryVerdict::Fractal => {
            "S_bb > ln 2: by the log-2 criterion of Daza et al. the basin boundary is fractal"
                .into()
        }
        stats::BoundaryVerdict::NoEvidence => "S_bb <= ln 2: no evidence of a fractal boundary \
            from this test (it is sufficient, not necessary)"
            .into(),
        stats::BoundaryVerdict::GridTooSmall => format!(
            "the grid is too small to judge the log-2 criterion: it needs >= {} boundary boxes \
             and >= {} boxes per outcome (here {} and {}), {}; use a finer --resolution",
            stats::MIN_BOUNDARY_BOXES,
            stats::MIN_BOXES_PER_OUTCOME,
            e.boundary_boxes,
            e.boxes / e.outcomes.max(1),
            if e.boundary_basin_entropy > std::f64::consts::LN_2 {
                "and S_bb > ln 2 here may come from boxes where three or more smooth basins meet"
            } else {
                "and S_bb <= ln 2 here may miss structure finer than the boxes"
            }
        ),
    }
}

/// How a pixel maps to a point; also in every manifest.
pub const PIXEL_TO_POINT: &str = "pixel (i, j) = column i of W, row j of H (row 0 at the top) \
    is the point centre + s*u + t*v with s = x0 + (i + 0.5)*(x1 - x0)/W and \
    t = y1 - (j + 0.5)*(y1 - y0)/H (pixel centres); on sphere objectives the point is then \
    rescaled to |x|^2 = N";

/// Titles and axes of the figures, kept in the manifest for `redraw`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FigureMeta {
    title: String,
    subtitle: String,
    axes: [String; 2],
    shade_steps: bool,
}

fn near_tolerance(plane: &Plane, n: usize) -> f64 {
    let e = plane.extent;
    if n == 2 && !plane.sphere {
        0.0
    } else {
        NEAR_SLICE * (e.x1 - e.x0).max(e.y1 - e.y0)
    }
}

/// Critical points on or near the slice: the run's attractors, the --catalogue's points, and
/// (N = 2) the critical points Newton finds from a 32 x 32 grid over the extent.
fn slice_points(r: &Resolved, cat: &Catalogue) -> Vec<SlicePoint> {
    let n = r.obj.dim();
    let tol = near_tolerance(&r.plane, n);
    let mut cands: Vec<SlicePoint> = Vec::new();
    let mut push = |source, id, kind: &str, index, f, x: &[f64]| {
        if let Some((s, t, d)) = r.plane.project(x) {
            if d <= tol.max(1e-9 * (1.0 + x.iter().map(|v| v * v).sum::<f64>().sqrt())) {
                cands.push(SlicePoint {
                    source,
                    id,
                    kind: kind.to_string(),
                    index,
                    f,
                    s,
                    t,
                    distance: d,
                    x: x.to_vec(),
                });
            }
        }
    };
    for p in &cat.points {
        push("attractor", Some(p.id), p.kind.as_str(), p.index, p.f, &p.x);
    }
    if let Some(stored) = &r.stored {
        for p in &stored.points {
            push("catalogue", Some(p.id), &p.kind, p.index, p.f, &p.x);
        }
    }
    if n == 2 && !r.obj.sphere() {
        // Newton may travel far from a grid start: no drift limit, keep what lies in view.
        let g = Grid {
            width: 32,
            height: 32,
        };
        let starts = r.plane.starts(g);
        let mut opts = CatalogueOptions::default();
        opts.polish.max_drift = f64::INFINITY;
        if let Ok(found) =
            critical::catalogue(r.obj.as_ref(), &starts, &vec![true; g.pixels()], &opts)
        {
            let e = r.plane.extent;
            for p in &found.points {
                if p.x[0] >= e.x0 && p.x[0] <= e.x1 && p.x[1] >= e.y0 && p.x[1] <= e.y1 {
                    push("search", None, p.kind.as_str(), p.index, p.f, &p.x);
                }
            }
        }
    }
    // One marker per point: the first source wins (attractor, catalogue, search).
    let mut out: Vec<SlicePoint> = Vec::new();
    for c in cands {
        let tol = cluster::tolerance(&c.x, 1e-5);
        let dup = out.iter().any(|o| {
            o.x.iter()
                .zip(&c.x)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                <= tol
        });
        if !dup {
            out.push(c);
        }
    }
    out
}

/// One walker path: its pixel, how it ended, and (step, s, t, f) samples.
struct WalkerPath {
    pixel: usize,
    steps: u32,
    status: Status,
    points: Vec<(u32, f64, f64, f64)>,
}

/// K pixels spread over the grid: the centres of a near-square lattice of K cells.
fn path_pixels(grid: Grid, k: usize) -> Vec<usize> {
    if k == 0 {
        return vec![];
    }
    let cols = (k as f64).sqrt().ceil() as usize;
    let rows = k.div_ceil(cols);
    (0..k)
        .map(|q| {
            let (a, b) = (q % cols, q / cols);
            let i = ((a as f64 + 0.5) * grid.width as f64 / cols as f64) as usize;
            let j = ((b as f64 + 0.5) * grid.height as f64 / rows as f64) as usize;
            j.min(grid.height - 1) * grid.width + i.min(grid.width - 1)
        })
        .collect()
}

/// Records `k` walker paths with the CPU twin (f64, the GPU's random numbers), keeping a sample
/// whenever the projected path has moved 1/1000 of the extent since the last one.
fn record_paths(r: &Resolved, k: usize) -> Vec<WalkerPath> {
    let grid = r.grid;
    let e = r.plane.extent;
    let min_move = 1e-3 * (e.x1 - e.x0).max(e.y1 - e.y0);
    let n = r.obj.dim();
    let hyper = r.opt.hyper_rows(grid.pixels());
    path_pixels(grid, k)
        .into_par_iter()
        .map(|pixel| {
            let hp = hyper.walker(pixel);
            let (s0, t0) = r
                .plane
                .pixel_st(grid, pixel % grid.width, pixel / grid.width);
            let mut x = vec![0.0; n];
            r.plane.point(s0, t0, &mut x);
            let mut w = WalkerState::new(&x);
            let mut points = vec![(0, s0, t0, r.obj.value(&x))];
            let mut step = 0u32;
            loop {
                cpu::walk_segment(
                    r.obj.as_ref(),
                    &r.opt,
                    &r.plan,
                    pixel as u32 + r.plan.first_walker,
                    &mut w,
                    &hp,
                    1,
                );
                let running = w.ct[CT_STATUS] == Status::Running as u32;
                if running {
                    step += 1;
                }
                if let Some((s, t, _)) = r.plane.project(w.x()) {
                    let last = points[points.len() - 1];
                    let moved = ((s - last.1).powi(2) + (t - last.2).powi(2)).sqrt();
                    if (moved >= min_move || !running) && s.is_finite() && t.is_finite() {
                        points.push((step, s, t, r.obj.value(w.x())));
                    }
                }
                if !running {
                    break;
                }
            }
            WalkerPath {
                pixel,
                steps: step,
                status: Status::from_code(w.ct[CT_STATUS]),
                points,
            }
        })
        .collect()
}

fn attractor_rows(cat: &Catalogue, fractions: &[stats::Fraction]) -> Vec<AttractorRow> {
    fractions
        .iter()
        .map(|fr| {
            let p = usize::try_from(fr.label).ok().map(|l| &cat.points[l]);
            AttractorRow {
                label: fr.label,
                f: p.map_or(f64::NAN, |p| p.f),
                index: p.map_or(0, |p| p.index),
                kind: p.map_or("none".into(), |p| p.kind.as_str().to_string()),
                walkers: fr.walkers,
                fraction: fr.fraction,
                ci95: fr.ci95,
            }
        })
        .collect()
}

/// basins.csv: `label,walkers,fraction,f,index,kind` (+ `x0..` when N <= 8), labels in order,
/// then -1 (f and index empty, kind `none`) when some pixels reached no attractor.
fn write_basins_csv(
    path: &Path,
    n: usize,
    cat: &Catalogue,
    fractions: &[stats::Fraction],
) -> std::io::Result<()> {
    let mut header = String::from("label,walkers,fraction,f,index,kind");
    if n <= 8 {
        for i in 0..n {
            header.push_str(&format!(",x{i}"));
        }
    }
    let mut csv = Csv::new(&header);
    for fr in fractions {
        let mut row = vec![
            fr.label.to_string(),
            fr.walkers.to_string(),
            output::num(fr.fraction),
        ];
        match usize::try_from(fr.label).ok().map(|l| &cat.points[l]) {
            Some(p) => {
                row.extend([
                    output::num(p.f),
                    p.index.to_string(),
                    p.kind.as_str().to_string(),
                ]);
                if n <= 8 {
                    row.extend(p.x.iter().map(|&v| output::num(v)));
                }
            }
            None => {
                row.extend([String::new(), String::new(), "none".to_string()]);
                if n <= 8 {
                    row.extend(std::iter::repeat_n(String::new(), n));
                }
            }
        }
        csv.row(&row);
    }
    csv.write(path)
}

/// paths.csv: `path,pixel,step,s,t,f`, one row per kept sample.
fn write_paths_csv(path: &Path, paths: &[WalkerPath]) -> std::io::Result<()> {
    let mut csv = Csv::new("path,pixel,step,s,t,f");
    for (k, p) in paths.iter().enumerate() {
        for &(step, s, t, f) in &p.points {
            csv.row(&[
                k.to_string(),
                p.pixel.to_string(),
                step.to_string(),
                output::num(s),
                output::num(t),
                output::num(f),
            ]);
        }
    }
    csv.write(path)
}

fn read_array<T>(
    dir: &Path,
    name: &str,
    descr: &str,
    shape: &[usize],
    size: usize,
    decode: fn(&[u8]) -> T,
) -> Result<Vec<T>, SpecError> {
    let bytes = std::fs::read(dir.join(name))
        .map_err(|e| SpecError::folder(dir, format!("cannot read {name} ({e})")))?;
    let (d, s, raw) = output::read_npy(&bytes).ok_or_else(|| {
        SpecError::folder(dir, format!("{name} is not a .npy file (no valid header)"))
    })?;
    let want = shape.iter().product::<usize>() * size;
    if d != descr || s != shape {
        return Err(SpecError::folder(
            dir,
            format!(
                "{name} has dtype {d} and shape {s:?}; manifest.json's grid needs {descr} and {shape:?}"
            ),
        ));
    }
    if raw.len() != want {
        return Err(SpecError::folder(
            dir,
            format!(
                "{name} holds {} bytes of data where its header's shape {s:?} needs {want} (a truncated file)",
                raw.len()
            ),
        ));
    }
    Ok(raw.chunks_exact(size).map(decode).collect())
}

/// Redraws every figure of a basins folder (basins.png/.svg, basins_annotated.png,
/// landscape.png/.svg, legend.png/.svg) from its files only: labels.npy, steps.npy, landscape.npy, basins.csv,
/// paths.csv (when present) and manifest.json, each held to the manifest first.
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let bad = |what: String| SpecError::folder(dir, what);
    let m = Manifest::read_of(dir, "basins")?.to_value();
    let dim = |k: &str| {
        m["grid"][k]
            .as_u64()
            .filter(|&v| v > 0 && v <= plane::MAX_PIXELS as u64)
            .map(|v| v as usize)
            .ok_or_else(|| {
                bad(format!(
                    "manifest.json has no grid.{k} in 1..={}",
                    plane::MAX_PIXELS
                ))
            })
    };
    let (w, h) = (dim("width")?, dim("height")?);
    if w.saturating_mul(h) > plane::MAX_PIXELS {
        return Err(bad(format!(
            "manifest.json's grid {w}x{h} has more than {} pixels",
            plane::MAX_PIXELS
        ))
        .into());
    }
    let extent: Extent = serde_json::from_value(m["plane"]["extent"].clone())
        .map_err(|e| bad(format!("manifest.json: plane.extent: {e}")))?;
    extent.check(&format!("{}: manifest.json: plane.extent", dir.display()))?;
    let figure: FigureMeta = serde_json::from_value(m["figure"].clone())
        .map_err(|e| bad(format!("manifest.json: figure: {e}")))?;
    let attractors = crate::table::manifest_count(dir, &m["attractors"], "attractors")?;
    let shape = [h, w];
    let labels = read_array(dir, "labels.npy", "<i4", &shape, 4, |b| {
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })?;
    if let Some((p, l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l < -1 || l >= attractors as i32)
    {
        return Err(bad(format!(
            "labels.npy pixel {p} has label {l}; valid: -1 (none) or 0..{attractors} (manifest.json: attractors)"
        ))
        .into());
    }
    let steps = read_array(dir, "steps.npy", "<u4", &shape, 4, |b| {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })?;
    let landscape = read_array(dir, "landscape.npy", "<f8", &shape, 8, |b| {
        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    })?;
    let rows = read_attractors(dir, &labels, attractors)?;
    let points: Vec<MarkedPoint> = m["landscape"]["points"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(MarkedPoint {
                        kind: p["kind"].as_str()?.to_string(),
                        s: p["s"].as_f64().filter(|v| v.is_finite())?,
                        t: p["t"].as_f64().filter(|v| v.is_finite())?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let paths = read_paths(dir)?;
    basin_figures(
        dir,
        &BasinPicture {
            width: w,
            height: h,
            labels: &labels,
            steps: &steps,
            shade_steps: figure.shade_steps,
            landscape: &landscape,
            extent: [extent.x0, extent.x1, extent.y0, extent.y1],
            axes: [&figure.axes[0], &figure.axes[1]],
            title: &figure.title,
            subtitle: &figure.subtitle,
            attractors: &rows,
            points: &points,
            paths: &paths,
        },
    )?;
    Ok(())
}

/// The legend rows of basins.csv, held to labels.npy: one row per attractor (label = its
/// row) and a row for label -1 when some pixel has none, each with the number of pixels that
/// labels.npy gives that label; fractions (and their Wilson intervals) of all pixels.
fn read_attractors(
    dir: &Path,
    labels: &[i32],
    attractors: usize,
) -> Result<Vec<AttractorRow>, SpecError> {
    let total = labels.len();
    let mut counts = vec![0usize; attractors + 1];
    for &l in labels {
        counts[usize::try_from(l).unwrap_or(attractors)] += 1;
    }
    let none = counts[attractors] > 0;
    let t = crate::table::Table::read(
        dir,
        "basins.csv",
        &["label", "walkers", "fraction", "f", "index", "kind"],
    )?;
    t.expect_rows(
        attractors + usize::from(none),
        "manifest.json (attractors, and a -1 row when labels.npy has label -1)",
    )?;
    let mut rows = Vec::new();
    for r in 0..t.len() {
        let label = t.i64(r, "label")?;
        let want = if r < attractors { r as i64 } else { -1 };
        if label != want {
            return Err(t.bad(
                r,
                format!("label = {label} where row {r} holds label {want}"),
            ));
        }
        let walkers = t.usize(r, "walkers")?;
        let have = counts[usize::try_from(label).unwrap_or(attractors)];
        if walkers != have {
            return Err(t.bad(
                r,
                format!("walkers = {walkers} where labels.npy has {have} pixels of label {label}"),
            ));
        }
        t.fraction(r, "fraction")?;
        let (f, index, kind) = if label >= 0 {
            (
                t.finite(r, "f")?,
                t.usize(r, "index")?,
                t.choice(r, "kind", critical::Kind::NAMES)?,
            )
        } else {
            (f64::NAN, 0, t.str(r, "kind")?)
        };
        rows.push(AttractorRow {
            label: label as i32,
            f,
            index,
            kind,
            walkers,
            fraction: walkers as f64 / total as f64,
            ci95: stats::wilson(walkers, total, stats::Z95),
        });
    }
    Ok(rows)
}

/// The walker paths of paths.csv in slice coordinates (none when there is no such file).
fn read_paths(dir: &Path) -> Result<Vec<Vec<(f64, f64)>>, SpecError> {
    let mut paths: Vec<Vec<(f64, f64)>> = Vec::new();
    if !dir.join("paths.csv").exists() {
        return Ok(paths);
    }
    let t = crate::table::Table::read(dir, "paths.csv", &["path", "pixel", "step", "s", "t", "f"])?;
    for r in 0..t.len() {
        let k = t.usize(r, "path")?;
        if k >= MAX_PATHS {
            return Err(t.bad(r, format!("path = {k}; valid: 0..{MAX_PATHS}")));
        }
        // A diverging path may leave the slice for good: its last samples may be infinite.
        let (s, tt) = (t.f64(r, "s")?, t.f64(r, "t")?);
        if paths.len() <= k {
            paths.resize(k + 1, Vec::new());
        }
        paths[k].push((s, tt));
    }
    Ok(paths)
}

/// `saddlescope merge` of the shard folders of one basins run (checked and in shard order): the
/// pixels' end states joined in pixel order are labelled and drawn as one run's are, into `out`.
pub fn merge(
    out: &Path,
    shards: &[run::merge::ShardFolder],
    inv: &run::Invocation,
) -> anyhow::Result<run::Finished> {
    let mut spec: BasinsSpec = run::merge::shared_spec(shards)?;
    spec.shard = None;
    let r = spec.resolve()?;
    spec.memory(&r).check()?;
    let ends = run::merge::read_end_states(shards, r.grid.pixels(), r.obj.dim())?;
    let folder = RunFolder::create(Some(out), BasinsSpec::NAME, &spec.objective)?;
    let backend = crate::backend::Backend::cpu();
    let mut ctx = Ctx::new(&backend, &folder, &run::Silent);
    let seconds = run::merge::walk_seconds(shards);
    ctx.timings.add("walk", seconds);
    let starts = r.plane.starts(r.grid);
    let done = label(&spec, &r, ends, seconds, &mut ctx)
        .and_then(|l| finish(&spec, &r, &starts, l, &mut ctx));
    let done = done;
    run::merge::complete(&spec, &r, ctx, done, shards, &folder, inv)
}
