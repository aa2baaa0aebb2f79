//! rotor's default policy: rotates Linkerd's trust anchor and identity issuer
//! in the safe, gated order (see `plan::Step`).

mod config;
mod plan;
mod rotation;

use rotor_sdk::{Error, Policy, Summary};

struct LinkerdRotation;

impl Policy for LinkerdRotation {
    fn run(config: String) -> Result<Summary, Error> {
        rotation::run(&config).map_err(|e| {
            rotor_sdk::error("rotation stopped", &[("error", &e.to_string())]);
            Error::from(e)
        })
    }
}

rotor_sdk::export_policy!(LinkerdRotation);
