//! The smallest rotor policy: lists the namespaces it may read and logs them.

use rotor_sdk::{Error, KeyValue, Policy, Summary};

struct Hello;

impl Policy for Hello {
    fn run(_config: String) -> Result<Summary, Error> {
        let namespaces = rotor_sdk::namespaces::list_namespaces("")?;
        for ns in &namespaces {
            rotor_sdk::info("namespace", &[("name", &ns.name)]);
        }
        Ok(Summary {
            message: format!("{} namespaces", namespaces.len()),
            facts: vec![KeyValue {
                key: "namespaces".into(),
                value: namespaces.len().to_string(),
            }],
        })
    }
}

rotor_sdk::export_policy!(Hello);
