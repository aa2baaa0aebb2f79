//! Whole rotations in the simulator: the scenario matrix, pods rotor does
//! not own, resume after a kill at every mutation, injected API faults, and
//! rotor writing the trust roots itself on an install without trust-manager.
//! One test binary for all of them.

#[path = "../support/mod.rs"]
mod support;

mod bundle_writer;
mod faults;
mod identity_gauge;
mod leaf_refresh;
mod multicluster;
mod resume;
mod rotation_matrix;
mod staged;
mod unowned;
mod window;
