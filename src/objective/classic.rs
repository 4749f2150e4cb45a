//! Classic 2-D test surfaces: saddle, monkey-saddle, himmelblau, muller-brown, camel6.

use nalgebra::DMatrix;

use super::{Domain, Entry, Objective, Wgsl};
use crate::spec::{Param, SpecError, Values};

pub fn entries() -> Vec<Entry> {
    vec![Entry {
        name: "saddle",
        summary: "f = x^2 - y^2, the canonical index-1 saddle at the origin",
        params: &[],
        build: |_: &Values| Ok(Box::new(Saddle) as Box<dyn Objective>),
    }]
}

/// f(x, y) = x^2 - y^2.
pub struct Saddle;

impl Objective for Saddle {
    fn spec(&self) -> String {
        "saddle".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        x[0] * x[0] - x[1] * x[1]
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g[0] = 2.0 * x[0];
        g[1] = -2.0 * x[1];
        self.value(x)
    }
    fn hessian(&self, _x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, -2.0])
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -1.0, hi: 1.0 }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl {
            consts: String::new(),
            body: include_str!("../../shaders/objectives/saddle.wgsl"),
        }
    }
    fn known_saddle(&self) -> Option<Vec<f64>> {
        Some(vec![0.0, 0.0])
    }
}

#[allow(dead_code)]
const _UNUSED: &[Param] = &[];
#[allow(dead_code)]
fn _unused(_: SpecError) {}
