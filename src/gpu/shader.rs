//! Shader assembly: a tiny, explicit preprocessor that concatenates host constants, the shared
//! pieces (common.wgsl, rng.wgsl, schedule.wgsl), the objective, the step rule and a kernel into one module,
//! and validates it with naga (no GPU needed).

use crate::objective::Objective;

pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
pub const RNG: &str = include_str!("../../shaders/rng.wgsl");
pub const SCHEDULE: &str = include_str!("../../shaders/schedule.wgsl");
pub const WALK: &str = include_str!("../../shaders/walk.wgsl");

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

/// Joins the pieces in order; `rule` is the step-rule source and its constants.
pub fn assemble(label: &str, obj: &dyn Objective, rule: &str, kernel: &str) -> Assembled {
    let w = obj.wgsl();
    let mut s = String::new();
    s.push_str(&format!("// ---- assembled: {label}\n"));
    s.push_str(&format!("const N: u32 = {}u;\n", obj.dim()));
    s.push_str(&format!(
        "const SPHERE: bool = {};\n",
        if obj.sphere() { "true" } else { "false" }
    ));
    s.push_str(&w.consts);
    for piece in [COMMON, RNG, SCHEDULE, w.body, rule, kernel] {
        s.push('\n');
        s.push_str(piece);
    }
    Assembled {
        label: label.to_string(),
        source: s,
    }
}

/// Parses and validates a module with naga.
pub fn validate(a: &Assembled) -> Result<naga::Module, ShaderError> {
    let module = naga::front::wgsl::parse_str(&a.source).map_err(|e| ShaderError {
        kernel: a.label.clone(),
        message: e.emit_to_string(&a.source),
    })?;
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    );
    v.validate(&module).map_err(|e| ShaderError {
        kernel: a.label.clone(),
        message: format!("{e:?}"),
    })?;
    Ok(module)
}

/// A kernel that calls the three objective functions, for validating an objective alone.
pub const OBJECTIVE_PROBE: &str = r#"
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = gid.x;
    if w >= walk.stride { return; }
    let f = obj_grad(SLOT_X, w);
    scalars[sc(SC_F, w)] = f + obj_value(SLOT_X, w);
    obj_hvp(SLOT_X, SLOT_GRAD, SLOT_AUX, w);
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{objective, rules};

    /// Every rule's walk kernel (with the schedule rows read by walk.wgsl) parses and validates,
    /// on a flat and a sphere objective, without a GPU.
    #[test]
    fn walk_kernels_validate_for_every_rule() {
        for obj_spec in ["styblinski-tang:n=3", "pspin:p=3,n=5,seed=1"] {
            let obj = objective::parse(obj_spec).unwrap();
            for r in rules::registry() {
                let Some(wgsl) = r.wgsl else { continue };
                let opt = rules::parse(r.name).unwrap();
                let rule = format!("{}\n{}", opt.wgsl_consts(), wgsl);
                let a = assemble(r.name, obj.as_ref(), &rule, WALK);
                if let Err(e) = validate(&a) {
                    panic!("{} on {obj_spec}: {e}", r.name);
                }
            }
        }
    }
}
