//! A member of a multicluster mesh: every linked cluster trusts one anchor,
//! issued in the home cluster. A member has no anchor Certificate of its
//! own; it holds a copy of the home's anchor Secret (certificate and key),
//! which its CA ClusterIssuer signs the member's identity issuer with.

use std::collections::BTreeMap;

use base64::Engine;

use crate::cluster::sim::linkerd::{PREVIOUS_ANCHOR, TRUST_ANCHOR};
use crate::cluster::sim::manifest::{Meta, SecretObject};
use crate::cluster::sim::scenario::{Located, Object, Scenario, ScenarioError};
use crate::cluster::sim::trustmanager::TRUST_NAMESPACE;
use crate::cluster::sim::world::World;

use super::invalid;

/// The home cluster's anchor Secrets, to copy into a member.
#[derive(Debug, Clone)]
pub struct SharedAnchor {
    secrets: Vec<(String, String, BTreeMap<String, Vec<u8>>)>,
}

impl SharedAnchor {
    /// The home's anchor Secret and, if it has one, its previous anchor.
    pub fn of_home(home: &World) -> Result<SharedAnchor, ScenarioError> {
        let mut secrets = Vec::new();
        for name in [TRUST_ANCHOR, PREVIOUS_ANCHOR] {
            let key = (TRUST_NAMESPACE.to_string(), name.to_string());
            if let Some(s) = home.secrets.get(&key) {
                secrets.push((name.to_string(), s.type_.clone(), s.data.clone()));
            } else if name == TRUST_ANCHOR {
                return Err(invalid(format!(
                    "the home cluster has no Secret {TRUST_NAMESPACE}/{TRUST_ANCHOR} to share"
                )));
            }
        }
        Ok(SharedAnchor { secrets })
    }

    /// Whether a standard object is one a member does without: the anchor
    /// Certificate and the self-signed Issuer behind it.
    pub(super) fn replaces(object: &Object) -> bool {
        match object {
            Object::Certificate(c) => is_anchor(&c.metadata),
            Object::Issuer(i) => {
                i.metadata.namespace.as_deref() == Some(TRUST_NAMESPACE)
                    && i.spec.self_signed.is_some()
            }
            _ => false,
        }
    }

    /// Put the home's anchor Secrets into a member's scenario.
    pub(super) fn apply(&self, scenario: &mut Scenario) -> Result<(), ScenarioError> {
        for l in &scenario.objects {
            if let Object::Certificate(c) = &l.object
                && is_anchor(&c.metadata)
            {
                return Err(invalid(format!(
                    "Certificate {TRUST_NAMESPACE}/{TRUST_ANCHOR}: a member cluster shares the home cluster's anchor and issues none"
                )));
            }
            if let Object::Secret(s) = &l.object
                && is_anchor(&s.metadata)
            {
                return Err(invalid(format!(
                    "Secret {TRUST_NAMESPACE}/{TRUST_ANCHOR}: a member cluster's anchor Secret is copied from the home cluster"
                )));
            }
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for (name, type_, data) in &self.secrets {
            let object = SecretObject {
                metadata: Meta {
                    name: name.clone(),
                    namespace: Some(TRUST_NAMESPACE.to_string()),
                    ..Meta::default()
                },
                type_: Some(type_.clone()),
                data: data
                    .iter()
                    .map(|(k, v)| (k.clone(), b64.encode(v)))
                    .collect(),
                string_data: BTreeMap::new(),
            };
            scenario.objects.push(Located {
                doc: "copied from the home cluster".into(),
                what: format!("Secret {TRUST_NAMESPACE}/{name}"),
                object: Object::Secret(object),
            });
        }
        Ok(())
    }
}

fn is_anchor(meta: &Meta) -> bool {
    meta.name == TRUST_ANCHOR && meta.namespace.as_deref() == Some(TRUST_NAMESPACE)
}
