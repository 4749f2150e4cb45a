//! Shader assembly: a tiny, explicit preprocessor that concatenates host constants (the
//! contract's generated constants among them), the shared pieces (common.wgsl, rng.wgsl,
//! schedule.wgsl), the objective, the step rule and a kernel into one module, and validates it
//! with naga (no GPU needed).

use super::contract;
use super::program::{self, Program};
use crate::objective::{Const, Objective};
use crate::rules::Optimizer;

pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
pub const RNG: &str = include_str!("../../shaders/rng.wgsl");
pub const SCHEDULE: &str = include_str!("../../shaders/schedule.wgsl");
pub const OBSERVE: &str = include_str!("../../shaders/observe.wgsl");
pub const WALK: &str = include_str!("../../shaders/walk.wgsl");

/// The environment variable of the test-only fault injection (see `fault_grad` in
/// shaders/common.wgsl): a number e makes every GPU gradient (1 + e) times too large.
pub const FAULT_ENV: &str = "SADDLESCOPE_TEST_FAULT_GRAD";

/// A shader that failed to parse or validate, named by its kernel.
#[derive(Debug, thiserror::Error)]
#[error("WGSL module '{kernel}' is invalid: {message}")]
pub struct ShaderError {
    pub kernel: String,
    pub message: String,
}

/// One assembled WGSL module and the name of what it is for.
pub struct Assembled {
    pub label: String,
    pub source: String,
}

/// An f32 WGSL literal (`{:?}` always writes a decimal point or exponent).
fn wgsl_f32(v: f64) -> String {
    format!("{:?}", v as f32)
}

/// The test-only gradient fault from the environment (0 when unset or not a number).
fn fault_grad() -> f64 {
    std::env::var(FAULT_ENV)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// Whether f32 holds `v` without overflow, and without flushing a nonzero value to zero or a
/// subnormal (GPUs may flush subnormals): the values the GPU can compute with.
pub fn fits_f32(v: f64) -> bool {
    v == 0.0
        || (v.is_finite()
            && v.abs() <= f64::from(f32::MAX)
            && v.abs() >= f64::from(f32::MIN_POSITIVE))
}

/// The usage message for a value the GPU cannot hold.
fn not_f32(what: &str, v: f64) -> String {
    format!(
        "{what} = {v:e} does not fit the GPU's f32 arithmetic; valid: 0 or 1.2e-38 <= |value| \
         <= 3.4e38 (--backend cpu computes in f64)"
    )
}

/// Checks that the objective's host constants and parameters and the optimizer's
/// hyperparameters (both ends of every range) fit f32; the message names the first that does
/// not, and the valid range.
pub fn check_f32(obj: &dyn Objective, opt: &Optimizer) -> Result<(), String> {
    for c in obj.wgsl().consts {
        if let Const::F32(name, v) = c {
            if !fits_f32(v) {
                return Err(not_f32(
                    &format!("objective {}: constant {name}", obj.spec()),
                    v,
                ));
            }
        }
    }
    if let Some((i, v)) = obj
        .params()
        .into_iter()
        .enumerate()
        .find(|(_, v)| !fits_f32(*v))
    {
        return Err(not_f32(
            &format!("objective {}: landscape parameter {i}", obj.spec()),
            v,
        ));
    }
    for p in opt.rule.params {
        let mut values = vec![opt.values.value(p)];
        if let Some(sw) = opt.values.sweeps.get(p.key) {
            values.extend([sw.lo, sw.hi]);
        }
        if let Some(v) = values.into_iter().find(|v| !fits_f32(*v)) {
            return Err(not_f32(
                &format!("optimizer {}: {}", opt.rule.name, p.key),
                v,
            ));
        }
    }
    Ok(())
}

/// Joins the pieces in order: host constants (N, SPHERE, FAULT_GRAD, the contract's constants
/// from `contract::consts`, the objective's constants), common.wgsl, rng.wgsl, schedule.wgsl, the
/// objective, the rule (`rule`: its constants and source), observe.wgsl, the program's
/// generated glue, and for the fused engine walk.wgsl.
pub fn assemble(label: &str, obj: &dyn Objective, rule: &str, program: &Program) -> Assembled {
    let w = obj.wgsl();
    let mut s = String::new();
    // The label stays out of the text: walks that differ only in what the label names (the
    // landscape's seed, hyperparameter values) assemble the same source, which is the key of
    // the pipeline cache (gpu::walker::PipelineCache).
    s.push_str("// ---- assembled by gpu::shader::assemble\n");
    s.push_str(&format!("const N: u32 = {}u;\n", obj.dim()));
    s.push_str(&format!("const SPHERE: bool = {};\n", obj.sphere()));
    s.push_str(&format!(
        "const FAULT_GRAD: f32 = {};\n",
        wgsl_f32(fault_grad())
    ));
    s.push_str(&contract::consts());
    for c in &w.consts {
        match *c {
            Const::U32(name, v) => s.push_str(&format!("const {name}: u32 = {v}u;\n")),
            Const::F32(name, v) => s.push_str(&format!("const {name}: f32 = {};\n", wgsl_f32(v))),
        }
    }
    let kernel = if program.fused { WALK } else { "" };
    for piece in [
        COMMON,
        RNG,
        SCHEDULE,
        &w.body,
        rule,
        OBSERVE,
        &program.source,
        kernel,
    ] {
        s.push('\n');
        s.push_str(piece);
    }
    Assembled {
        label: label.to_string(),
        source: s,
    }
}

/// The walk module of (objective, optimizer): the program of the objective's engine (fused or
/// multi-pass) and the assembled source, with the rule's `HP_*` constants before its WGSL. The
/// error says why the pair cannot run on the GPU (a rule without WGSL, a rule program the
/// multi-pass engine cannot run).
pub fn walk_module(
    label: &str,
    obj: &dyn Objective,
    opt: &Optimizer,
) -> Result<(Assembled, Program), String> {
    walk_module_with(label, obj, opt, true, false)
}

/// As [`walk_module`]; `tiled` says whether the multi-pass engine may run matrix-product
/// passes as tiled kernels (src/gpu/tile.rs; only for walks on one landscape), and
/// `subgroups` whether their split-sum kernels may use subgroup shuffles (the device has them).
pub fn walk_module_with(
    label: &str,
    obj: &dyn Objective,
    opt: &Optimizer,
    tiled: bool,
    subgroups: bool,
) -> Result<(Assembled, Program), String> {
    let wgsl = opt.rule.wgsl.ok_or_else(|| {
        format!(
            "step rule '{}' has no WGSL; it runs on the CPU twin only",
            opt.rule.name
        )
    })?;
    let minibatch = opt.batch_range().1 > 0;
    let program = match obj.wgsl().passes {
        Some(ps) => program::multi_pass(
            &ps,
            opt.rule.program,
            obj.dim(),
            minibatch,
            tiled,
            subgroups,
        )?,
        None if minibatch => {
            return Err(format!(
                "minibatches (batch=B) need an objective with data (mlp); {} has none",
                obj.spec()
            ))
        }
        None => program::fused(opt.rule.program, obj.dim()),
    };
    let rule = format!("{}\n{}", opt.wgsl_consts(), wgsl);
    Ok((assemble(label, obj, &rule, &program), program))
}

/// Parses and validates a module with naga.
pub fn validate(a: &Assembled) -> Result<naga::Module, ShaderError> {
    let module = naga::front::wgsl::parse_str(&a.source).map_err(|e| ShaderError {
        kernel: a.label.clone(),
        message: e.emit_to_string(&a.source),
    })?;
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        // Subgroup operations validate; only a device opened with them gets a module that
        // uses them (gpu::context::GpuContext::subgroups).
        naga::valid::Capabilities::SUBGROUP,
    );
    v.validate(&module).map_err(|e| ShaderError {
        kernel: a.label.clone(),
        message: format!("{e:?}"),
    })?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{objective, rules};

    /// A small spec of every registered objective: its defaults, with N = 3 where it takes N
    /// (or its smallest N, if that is larger).
    fn small_objectives() -> Vec<String> {
        objective::registry()
            .iter()
            .map(|e| match e.params.iter().find(|p| p.key == "n") {
                Some(p) => {
                    let lo = match p.range {
                        crate::spec::Range::Int(lo, _) => lo.max(3),
                        _ => 3,
                    };
                    format!("{}:n={lo}", e.name)
                }
                None => e.name.to_string(),
            })
            .collect()
    }

    /// Every registered objective (at a small N) with every rule that has WGSL: the walk
    /// module is assembled, parses and validates (naga), and keeps the Rust-WGSL contract
    /// (uniform layout and bindings), without a GPU. Both lists come from the registries, so
    /// a new objective or rule is covered without editing this test.
    #[test]
    fn every_objective_and_rule_assembles_validates_and_keeps_the_contract() {
        let mut modules = 0;
        for spec in small_objectives() {
            let obj = objective::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            for r in rules::registry().into_iter().filter(|r| !r.cpu_only()) {
                let opt = rules::parse(r.name).unwrap();
                let (a, _) = walk_module(r.name, obj.as_ref(), &opt)
                    .unwrap_or_else(|e| panic!("{} on {spec}: {e}", r.name));
                let module = validate(&a).unwrap_or_else(|e| panic!("{} on {spec}: {e}", r.name));
                if let Err(e) = contract::check(&module) {
                    panic!("{} on {spec}: {e}", r.name);
                }
                modules += 1;
            }
        }
        assert!(modules >= objective::registry().len());
    }

    /// The tiled kernels (src/gpu/tile.rs) of the matrix-shaped objectives, at sizes where
    /// every one of their passes is tiled, with a rule that evaluates f, the gradient and H v:
    /// the module validates and keeps the contract; without tiles no kernel is tiled.
    #[test]
    fn tiled_modules_validate_and_keep_the_contract() {
        let opt = rules::parse("newton-mr").unwrap();
        for spec in [
            "field:n=64,features=256",
            "field:n=17,features=33",
            "pspin:p=2,n=40",
            "pspin:p=3,n=20",
            "pspin:p=4,n=16",
        ] {
            let obj = objective::parse(spec).unwrap();
            for subgroups in [false, true] {
                let (a, p) = walk_module_with(spec, obj.as_ref(), &opt, true, subgroups).unwrap();
                let tiled: Vec<&str> = p
                    .kernels
                    .iter()
                    .filter(|k| k.tiled)
                    .map(|k| k.entry.as_str())
                    .collect();
                let passes = obj.wgsl().passes.unwrap();
                let products = passes.grad.iter().chain(&passes.hvp);
                assert!(
                    products.filter(|q| q.tile.is_some()).all(|q| tiled
                        .iter()
                        .any(|e| e.starts_with(&format!("tile_{}_", q.func)))),
                    "{spec}: {tiled:?}"
                );
                // Every tiled kernel has its per-row kernel for small dispatches, and the
                // field's (cheap B) its split-sum kernel; p-spin's packed monomials none.
                let field = spec.starts_with("field");
                for k in p.kernels.iter().filter(|k| k.tiled) {
                    let row = &p.kernels[k.per_row.unwrap()];
                    assert!(!row.lanes && row.entry.starts_with("pass_"), "{spec}");
                    assert_eq!(k.split_sum.is_some(), field, "{spec}");
                    if let Some(s) = k.split_sum {
                        let s = &p.kernels[s];
                        assert!(s.lanes && s.entry.starts_with("lanes_"), "{spec}");
                    }
                }
                assert_eq!(
                    a.source.contains("subgroupShuffleXor"),
                    subgroups && field,
                    "{spec}"
                );
                assert_eq!(
                    a.source.contains("lane_sums"),
                    !subgroups && field,
                    "{spec}"
                );
                let module = validate(&a).unwrap_or_else(|e| panic!("{spec}: {e}"));
                contract::check(&module).unwrap_or_else(|e| panic!("{spec}: {e}"));
            }
            let (_, per_row) = walk_module_with(spec, obj.as_ref(), &opt, false, false).unwrap();
            assert!(per_row.kernels.iter().all(|k| !k.tiled), "{spec}");
        }
    }

    #[test]
    fn rules_without_wgsl_have_no_walk_module() {
        let obj = objective::parse("himmelblau").unwrap();
        let e = walk_module("t", obj.as_ref(), &rules::parse("sfn").unwrap())
            .err()
            .unwrap();
        assert!(e.contains("sfn") && e.contains("CPU twin"), "{e}");
    }

    #[test]
    fn values_outside_f32_are_refused_with_the_valid_range() {
        let opt = rules::parse("gd:lr=1e-320").unwrap();
        let obj = objective::parse("himmelblau").unwrap();
        let e = check_f32(obj.as_ref(), &opt).unwrap_err();
        assert!(
            e.contains("lr") && e.contains("1e-320") && e.contains("1.2e-38"),
            "{e}"
        );
        let opt = rules::parse("gd:lr=1e-3..1e40:log").unwrap();
        assert!(check_f32(obj.as_ref(), &opt).unwrap_err().contains("1e40"));
        let field = objective::parse("field:n=4,mu=1e39").unwrap();
        let e = check_f32(field.as_ref(), &rules::parse("gd").unwrap()).unwrap_err();
        assert!(e.contains("FIELD_MU"), "{e}");
        assert!(check_f32(obj.as_ref(), &rules::parse("adam").unwrap()).is_ok());
    }
}
