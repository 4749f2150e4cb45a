//! spherical p-spin (placeholder until written).
use super::Entry;
pub fn entry() -> Entry {
    todo!()
}
