//! The first step from Linkerd's standard trust layout to a staged anchor,
//! as an operator takes it: add a second anchor Certificate (self-signed by
//! the anchor's own issuer, its own Secret) and have the trust-manager
//! Bundle source it where it sourced the previous-anchor copy. Running
//! proxies keep the roots they started with; the first staged rotation's
//! first restart round brings them the new bundle.

use serde_norway::Value;

use super::SimCluster;
use super::scenario::ScenarioError;
use super::trustmanager::TRUST_NAMESPACE;
use crate::linkerd::{PREVIOUS_ANCHOR, TRUST_ANCHOR};

impl SimCluster {
    /// This cluster, as a new one, with the anchor Certificate `next`
    /// added beside the trust anchor (same spec, its own Secret, issued at
    /// load) and every Bundle sourcing `next`'s Secret in place of the
    /// previous-anchor Secret.
    pub fn with_next_anchor(&self, next: &str) -> Result<SimCluster, ScenarioError> {
        let bad = |why: String| ScenarioError::Invalid(format!("adding anchor {next}: {why}"));
        let mut docs = Vec::new();
        let mut anchor_spec = None;
        for text in self.state_yaml().split("\n---\n") {
            let mut doc: Value = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
            if doc["kind"] == "Bundle" {
                let sources = doc["spec"]["sources"].as_sequence_mut();
                for source in sources.into_iter().flatten() {
                    if source["secret"]["name"] == PREVIOUS_ANCHOR {
                        source["secret"]["name"] = Value::from(next);
                    }
                }
            }
            let anchor = doc["kind"] == "Certificate"
                && doc["metadata"]["namespace"] == TRUST_NAMESPACE
                && doc["spec"]["secretName"] == TRUST_ANCHOR;
            if anchor {
                anchor_spec = Some(doc["spec"].clone());
            }
            docs.push(serde_norway::to_string(&doc).map_err(|e| bad(e.to_string()))?);
        }
        let mut spec = anchor_spec.ok_or_else(|| bad("no trust anchor Certificate".into()))?;
        spec["secretName"] = Value::from(next);
        let mut certificate = serde_norway::to_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": next, "namespace": TRUST_NAMESPACE},
        }))
        .map_err(|e| bad(e.to_string()))?;
        certificate["spec"] = spec;
        docs.push(serde_norway::to_string(&certificate).map_err(|e| bad(e.to_string()))?);
        SimCluster::from_yaml(&docs.join("\n---\n"))
    }
}
