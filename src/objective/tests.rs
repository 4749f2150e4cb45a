//! Objective tests.
