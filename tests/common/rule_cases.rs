//! The GPU-vs-twin test cases of every step rule with WGSL: the one table to extend when a rule
//! is added (tests/gpu_twins.rs and tests/schedules_gpu.rs iterate the registry and take each
//! rule's cases from here; a rule without an entry fails `every_rule_with_wgsl_has_test_cases`).

use saddlescope::rules;

/// The optimizer specs one rule is tested with.
pub struct RuleCase {
    pub rule: &'static str,
    /// 50 steps on `styblinski-tang` at N = 64 and 100 (the fused engine).
    pub fused: &'static [&'static str],
    /// 50 steps on the spherical 3-spin and the random field at N = 64 and 100 (the multi-pass
    /// engine). Empty only for a rule whose multi-pass check is a test of its own, named in
    /// `own_multi_pass_test`.
    pub batched: &'static [&'static str],
    pub own_multi_pass_test: Option<&'static str>,
    /// 40 steps under a non-constant schedule: (optimizer, objective).
    pub schedule: &'static [(&'static str, &'static str)],
}

/// Every rule with WGSL, in registry order.
pub const RULE_CASES: &[RuleCase] = &[
    RuleCase {
        rule: "gd",
        fused: &["gd:lr=0.01", "gd:lr=0.05,clip=1"],
        batched: &["gd:lr=0.01"],
        own_multi_pass_test: None,
        schedule: &[
            (
                "gd:lr=0.02,schedule=cosine,period=30,lr_min=0.1",
                "styblinski-tang:n=4",
            ),
            (
                "gd:lr=0.01,schedule=restarts,period=10",
                "pspin:p=3,n=8,seed=1",
            ),
        ],
    },
    RuleCase {
        rule: "momentum",
        fused: &["momentum:lr=0.005,beta=0.9"],
        batched: &["momentum:lr=0.005,beta=0.9"],
        own_multi_pass_test: None,
        schedule: &[(
            "momentum:lr=0.005,schedule=step,period=10,gamma=0.5",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "nesterov",
        fused: &["nesterov:lr=0.005,beta=0.9"],
        batched: &["nesterov:lr=0.005,beta=0.9"],
        own_multi_pass_test: None,
        schedule: &[(
            "nesterov:lr=0.005,schedule=restarts,period=8,t_mult=2",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "adam",
        fused: &["adam:lr=0.02"],
        // eps well above f32 rounding of |g|: a coordinate whose gradient is within rounding
        // of 0 would otherwise step by ±lr/sqrt(1-beta) on a coin flip.
        batched: &["adam:lr=0.01,eps=1e-3"],
        own_multi_pass_test: None,
        schedule: &[(
            "adam:lr=0.05,schedule=restarts,period=10,lr_min=0.2",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "rmsprop",
        fused: &["rmsprop:lr=0.01"],
        batched: &["rmsprop:lr=0.005,eps=1e-3"],
        own_multi_pass_test: None,
        schedule: &[(
            "rmsprop:lr=0.02,schedule=cosine,period=40",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "sgd",
        fused: &["sgd:lr=0.01,noise=0.5"],
        batched: &["sgd:lr=0.01,noise=0.3"],
        own_multi_pass_test: None,
        schedule: &[(
            "sgd:lr=0.01,noise=0.5,schedule=step,period=15,gamma=0.3",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "langevin",
        fused: &["langevin:lr=0.01,temperature=0.2"],
        batched: &["langevin:lr=0.01,temperature=0.05"],
        own_multi_pass_test: None,
        schedule: &[(
            "langevin:lr=0.01,temperature=0.2,schedule=cosine,period=25",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "pgd",
        fused: &["pgd:lr=0.01,g_thres=2,t_thres=10,r=0.1"],
        batched: &["pgd:lr=0.01,g_thres=0.5,t_thres=10,r=0.1"],
        own_multi_pass_test: None,
        schedule: &[(
            "pgd:lr=0.01,g_thres=2,t_thres=10,r=0.1,schedule=restarts,period=12,t_mult=2",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "anneal",
        fused: &["anneal:step=0.2,t0=1,cooling=0.99"],
        batched: &["anneal:step=0.1"],
        own_multi_pass_test: None,
        schedule: &[(
            "anneal:step=0.3,t0=1,cooling=0.99,schedule=step,period=10,gamma=0.5",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "gradnorm",
        // The default (lr = 0: the exact line search along H grad f) and a fixed step.
        fused: &["gradnorm", "gradnorm:lr=0.0005"],
        batched: &["gradnorm", "gradnorm:lr=0.002"],
        own_multi_pass_test: None,
        schedule: &[(
            "gradnorm:lr=0.0005,schedule=cosine,period=20",
            "styblinski-tang:n=4",
        )],
    },
    RuleCase {
        rule: "newton-mr",
        // The defaults (50 MINRES iterations: N = 64 and 100 run out of them, so the step is
        // inexact) and a short solve with a clipped step.
        fused: &["newton-mr", "newton-mr:iters=8,clip=0.5"],
        // From random starts on the 3-spin and the field the inexact Newton course does not
        // contract within 50 steps: its multi-pass check is a test of its own.
        batched: &[],
        own_multi_pass_test: Some(
            "tests/gpu_twins.rs: newton_mr_matches_its_twin_near_critical_points",
        ),
        // One MINRES iteration: the step along -grad f scaled by <g, Hg> / |Hg|^2, which stays
        // well-posed where H is near-singular (full Newton steps from the uniform box are not:
        // see `lattice_starts` in tests/common) and leaves the schedule's scaling of the
        // line search's first trial visible in where walkers end.
        schedule: &[(
            "newton-mr:iters=1,schedule=cosine,period=20",
            "styblinski-tang:n=4",
        )],
    },
];

/// The cases of `rule`; a rule with WGSL that has none is a test failure saying where to add
/// them.
pub fn cases_of(rule: &str) -> &'static RuleCase {
    RULE_CASES
        .iter()
        .find(|c| c.rule == rule)
        .unwrap_or_else(|| {
            panic!(
                "step rule '{rule}' has no GPU-vs-twin test cases: add its RuleCase to \
                 RULE_CASES in tests/common/rule_cases.rs"
            )
        })
}

/// The table against the registry: an entry for every rule with WGSL and none for another
/// name, each case given for its own rule and parsing, and every list non-empty.
pub fn check_table() {
    let reg = rules::registry();
    for r in reg.iter().filter(|r| !r.cpu_only()) {
        cases_of(r.name);
    }
    for c in RULE_CASES {
        assert!(
            reg.iter().any(|r| r.name == c.rule && !r.cpu_only()),
            "RULE_CASES has an entry for '{}', which is no registered rule with WGSL",
            c.rule
        );
        assert!(
            !c.fused.is_empty()
                && (!c.batched.is_empty() || c.own_multi_pass_test.is_some())
                && !c.schedule.is_empty(),
            "{}: every list needs a case",
            c.rule
        );
        let specs = c
            .fused
            .iter()
            .chain(c.batched)
            .chain(c.schedule.iter().map(|s| &s.0));
        for spec in specs {
            let opt = rules::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                opt.rule.name, c.rule,
                "{spec} is in the entry of {}",
                c.rule
            );
        }
        for (opt, _) in c.schedule {
            assert!(
                opt.contains(",schedule="),
                "{opt}: a schedule case needs a schedule"
            );
        }
    }
}
