//! The Roles, ClusterRoles and bindings picked out of rendered chart YAML,
//! checked on load so a malformed RBAC object fails the test that reads it
//! instead of silently granting nothing.

use serde::Deserialize;
use serde_json::Value;

use super::rules::PolicyRule;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Meta {
    pub(super) name: String,
    #[serde(default)]
    pub(super) namespace: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoleDoc {
    pub(super) metadata: Meta,
    #[serde(default)]
    pub(super) rules: Vec<PolicyRule>,
    #[serde(default)]
    pub(super) aggregation_rule: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RoleRef {
    pub(super) kind: String,
    pub(super) name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Subject {
    pub(super) kind: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) namespace: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BindingDoc {
    pub(super) metadata: Meta,
    pub(super) role_ref: RoleRef,
    #[serde(default)]
    pub(super) subjects: Vec<Subject>,
}

/// The Roles, ClusterRoles and bindings of a set of manifests.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    pub(super) roles: Vec<(String, RoleDoc)>,
    pub(super) bindings: Vec<(String, BindingDoc)>,
}

pub(super) const RBAC_API: &str = "rbac.authorization.k8s.io/v1";

impl Rbac {
    /// Pick the RBAC objects out of rendered manifests (other kinds are
    /// skipped). A malformed RBAC object is an error naming it.
    pub fn from_manifests(docs: &[Value]) -> Result<Rbac, String> {
        let mut rbac = Rbac::default();
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            if !matches!(
                kind,
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            ) {
                continue;
            }
            let what = format!(
                "{kind} {}/{}",
                doc["metadata"]["namespace"].as_str().unwrap_or_default(),
                doc["metadata"]["name"].as_str().unwrap_or_default()
            );
            if doc["apiVersion"] != RBAC_API {
                return Err(format!("{what}: apiVersion is not {RBAC_API}"));
            }
            match kind {
                "Role" | "ClusterRole" => {
                    let role: RoleDoc =
                        serde_json::from_value(doc.clone()).map_err(|e| format!("{what}: {e}"))?;
                    if role.aggregation_rule.is_some() {
                        return Err(format!("{what}: aggregationRule is not evaluated here"));
                    }
                    if kind == "Role" && role.metadata.namespace.is_empty() {
                        return Err(format!("{what}: a Role needs a namespace"));
                    }
                    rbac.roles.push((kind.to_string(), role));
                }
                _ => {
                    let binding: BindingDoc =
                        serde_json::from_value(doc.clone()).map_err(|e| format!("{what}: {e}"))?;
                    if kind == "ClusterRoleBinding" && binding.role_ref.kind != "ClusterRole" {
                        return Err(format!(
                            "{what}: a ClusterRoleBinding must refer to a ClusterRole"
                        ));
                    }
                    if kind == "RoleBinding" && binding.metadata.namespace.is_empty() {
                        return Err(format!("{what}: a RoleBinding needs a namespace"));
                    }
                    rbac.bindings.push((kind.to_string(), binding));
                }
            }
        }
        Ok(rbac)
    }
}
