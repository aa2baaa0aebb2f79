//! Whole rotations in the simulator: the scenario matrix, pods rotor does
//! not own, resume after a kill at every mutation, and injected API faults.
//! One test binary for all of them.

#[path = "../support/mod.rs"]
mod support;

mod faults;
mod identity_gauge;
mod resume;
mod rotation_matrix;
mod unowned;
