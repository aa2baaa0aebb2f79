//! rotor's default policy: rotates Linkerd's trust anchor and identity issuer
//! in the safe, gated order (the steps live in `rotor_sdk::rotation`, so
//! site policies can reorder and gate them without copying them).

use rotor_sdk::{Error, Policy, Summary, rotation};

struct LinkerdRotation;

impl Policy for LinkerdRotation {
    fn run(config: String) -> Result<Summary, Error> {
        rotation::run(&config).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(LinkerdRotation);
