//! The `rotor` binary as users drive it: `simulate`, `scenario generate`,
//! bad input of every kind, no private key in any output, and the real
//! registry and cosign the policy artifact tests use. One test binary for all
//! of them.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod integrity;
mod oci;
mod registry_harness;
mod scenario_generate;
mod simulate;
