//! Separable and classic N-dimensional test functions.
use super::Entry;
pub fn entries() -> Vec<Entry> {
    vec![]
}
