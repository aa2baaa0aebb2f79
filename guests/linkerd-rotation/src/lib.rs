//! rotor's default policy: rotates Linkerd's trust anchor and identity issuer
//! in the safe, gated order (see `plan::Step`).

mod config;
mod plan;

use rotor_sdk::{Error, Policy, Summary};

struct LinkerdRotation;

impl Policy for LinkerdRotation {
    fn run(config: String) -> Result<Summary, Error> {
        let cfg = config::Config::parse(&config).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(Summary {
            message: format!("mode {}", plan::mode_name(cfg.mode)),
            facts: vec![],
        })
    }
}

rotor_sdk::export_policy!(LinkerdRotation);
