//! trust-manager's cluster-scoped `ClusterBundle` (`trust-manager.io/v1alpha2`),
//! the successor of the `Bundle` (`trust.cert-manager.io/v1alpha1`), in the
//! shape of trust-manager v0.25.0's `pkg/apis/trustmanager/v1alpha2/
//! types_cluster_bundle.go`: `sourceRefs` of Secrets and ConfigMaps (by name
//! or by label selector) in the trust namespace, `inLineCAs`, `defaultCAs`,
//! and a `target` whose `configMap.data[]` names the keys to write and whose
//! `namespaceSelector` is required.
//!
//! The simulator turns one into the same sources and target a `Bundle` has
//! ([`ClusterBundleObject::bundle_spec`]); what it cannot model (sources by
//! label selector, PKCS#12 targets) is refused by name.

use serde::{Deserialize, Serialize};

use super::{
    BundleSource, BundleSpec, BundleTarget, KeyRef, KubeCondition, LabelSelector, Meta, TargetKey,
};

/// `sourceRefs[]`: one Secret or ConfigMap of the trust namespace.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SourceRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DefaultCas {
    pub provider: String,
}

/// `target.configMap.data[]`: a key and its format (PEM unless PKCS12).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TargetKeyValue {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct KeyValueTarget {
    #[serde(default)]
    pub data: Vec<TargetKeyValue>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBundleTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyValueTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBundleSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_refs: Vec<SourceRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "defaultCAs"
    )]
    pub default_cas: Option<DefaultCas>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "inLineCAs")]
    pub in_line_cas: Option<String>,
    #[serde(default)]
    pub target: ClusterBundleTarget,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ClusterBundleStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<KubeCondition>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ClusterBundleObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: ClusterBundleSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClusterBundleStatus>,
}

impl ClusterBundleObject {
    /// Whether trust-manager has reconciled it: a `Synced` condition is
    /// there, whatever its status. trust-manager v0.25.0 serves the API and
    /// validates it in its webhook, but its manager starts only the
    /// `Bundle` controller (`cmd/trust-manager/app/app.go`), so a
    /// ClusterBundle there never gets one and its target is never written.
    pub fn reconciled(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Synced"))
    }

    /// The sources and target as a `Bundle` spells them, or what the
    /// simulator does not model.
    pub fn bundle_spec(&self) -> Result<BundleSpec, String> {
        let mut sources = Vec::new();
        for (i, r) in self.spec.source_refs.iter().enumerate() {
            let Some(name) = r.name.clone().filter(|_| r.selector.is_none()) else {
                return Err(format!(
                    "spec.sourceRefs[{i}]: sources chosen by label selector are not modelled; name the {}",
                    r.kind
                ));
            };
            let key = KeyRef {
                name,
                key: r.key.clone(),
            };
            if r.key.contains('*') {
                return Err(format!(
                    "spec.sourceRefs[{i}].key: wildcard keys are not modelled; name the key"
                ));
            }
            sources.push(match r.kind.as_str() {
                "Secret" => BundleSource {
                    secret: Some(key),
                    ..Default::default()
                },
                "ConfigMap" => BundleSource {
                    config_map: Some(key),
                    ..Default::default()
                },
                other => {
                    return Err(format!(
                        "spec.sourceRefs[{i}].kind: {other:?} is not Secret or ConfigMap"
                    ));
                }
            });
        }
        if let Some(pem) = &self.spec.in_line_cas {
            sources.push(BundleSource {
                in_line: Some(pem.clone()),
                ..Default::default()
            });
        }
        if self
            .spec
            .default_cas
            .as_ref()
            .is_some_and(|d| d.provider == "System")
        {
            sources.push(BundleSource {
                use_default_c_as: Some(true),
                ..Default::default()
            });
        }
        let pem_keys: Vec<&TargetKeyValue> = self
            .spec
            .target
            .config_map
            .iter()
            .flat_map(|c| &c.data)
            .filter(|d| d.format.as_deref().unwrap_or("PEM") == "PEM")
            .collect();
        let config_map = match pem_keys.as_slice() {
            [] => None,
            [one] => Some(TargetKey {
                key: one.key.clone(),
            }),
            _ => {
                return Err(
                    "spec.target.configMap.data: more than one PEM key is not modelled".into(),
                );
            }
        };
        let Some(selector) = self.spec.target.namespace_selector.clone() else {
            return Err("spec.target.namespaceSelector: required".into());
        };
        Ok(BundleSpec {
            sources,
            target: BundleTarget {
                config_map,
                namespace_selector: Some(selector),
            },
        })
    }
}
