//! rotor's default policy: rotates Linkerd's trust anchor and identity issuer
//! in the safe, gated order.

use rotor_sdk::{Error, Policy, Summary};

struct LinkerdRotation;

impl Policy for LinkerdRotation {
    fn run(_config: String) -> Result<Summary, Error> {
        rotor_sdk::log::begin_step("preflight");
        let namespaces = rotor_sdk::namespaces::list_namespaces("")?;
        rotor_sdk::info(
            "listed namespaces",
            &[("count", &namespaces.len().to_string())],
        );
        rotor_sdk::log::end_step("preflight", true, "");
        Ok(Summary {
            message: format!("saw {} namespaces", namespaces.len()),
            facts: vec![],
        })
    }
}

rotor_sdk::export_policy!(LinkerdRotation);
