//! The [`Cluster`](crate::cluster::Cluster) primitives over the simulated
//! world, one file per resource family as in the Kubernetes backend; the
//! trait impl in the parent module only delegates here.

mod certificates;
mod events;
mod issuers;
mod pods;
mod progress;
mod secrets;
mod workloads;

use crate::wit::KeyValue;

fn kv(map: &std::collections::BTreeMap<String, String>) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect()
}
