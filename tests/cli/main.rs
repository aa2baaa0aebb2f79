//! The `rotor` binary as users drive it: `simulate`, `scenario generate`,
//! bad input of every kind, and no private key in any output. One test
//! binary for all of them.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod integrity;
mod scenario_generate;
mod simulate;
