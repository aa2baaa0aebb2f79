//! The `clusters` section of the run configuration: the clusters of one
//! multicluster mesh, which must all trust one anchor while each keeps its
//! own identity issuer. Each entry says how to reach its cluster (a
//! kubeconfig context when run by hand, a kubeconfig held in a Secret when
//! run in a cluster), whether it is the home cluster (whose cert-manager
//! issues the anchor), and what of the top-level policy settings and grants
//! differ there, since each cluster may name its own objects.

use serde::Deserialize;
use serde_json::Value;

use crate::guard::Grants;

/// One cluster of the mesh.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterEntry {
    /// How reports and errors name the cluster: a DNS label, unique.
    pub name: String,
    /// A context of the kubeconfig rotor was given (run by hand).
    #[serde(default)]
    pub context: Option<String>,
    /// A Secret in the cluster rotor runs in holding this cluster's
    /// kubeconfig (run in a cluster).
    #[serde(default)]
    pub kubeconfig_secret: Option<KubeconfigSecret>,
    /// The cluster whose cert-manager issues the shared anchor.
    #[serde(default)]
    pub home: bool,
    /// Merged key by key over the top-level `policy`.
    #[serde(default)]
    pub policy: Option<Value>,
    /// This cluster's grants [default: the top-level grants].
    #[serde(default)]
    pub grants: Option<Grants>,
}

/// Where a member cluster's kubeconfig is kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeconfigSecret {
    pub namespace: String,
    pub name: String,
    /// The data key holding the kubeconfig.
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_key() -> String {
    "kubeconfig".into()
}

/// How to reach one cluster, as its entry says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClusterSource<'a> {
    Context(&'a str),
    Secret(&'a KubeconfigSecret),
}

impl ClusterEntry {
    /// How to reach the cluster; validation guarantees exactly one source.
    pub fn source(&self) -> ClusterSource<'_> {
        match (&self.context, &self.kubeconfig_secret) {
            (_, Some(secret)) => ClusterSource::Secret(secret),
            (context, None) => ClusterSource::Context(context.as_deref().unwrap_or_default()),
        }
    }

    /// The policy settings for this cluster: the top-level object with this
    /// entry's keys in place of its own.
    pub fn policy_over(&self, top: Option<&Value>) -> Option<Value> {
        match (top.filter(|v| !v.is_null()), &self.policy) {
            (top, None) => top.cloned(),
            (None, Some(own)) => Some(own.clone()),
            (Some(top), Some(own)) => {
                let mut merged = top.clone();
                if let (Some(into), Some(own)) = (merged.as_object_mut(), own.as_object()) {
                    for (key, value) in own {
                        into.insert(key.clone(), value.clone());
                    }
                }
                Some(merged)
            }
        }
    }

    /// This cluster's grants: its own, else the top-level ones.
    pub fn grants_or<'a>(&'a self, top: &'a Grants) -> &'a Grants {
        self.grants.as_ref().unwrap_or(top)
    }
}

/// `Err((field, message))` for the first entry that cannot be used: a name
/// that is not a unique DNS label, not exactly one way to reach the
/// cluster, not exactly one home, a policy that does not merge.
pub fn validate(
    clusters: &[ClusterEntry],
    top_policy: Option<&Value>,
) -> Result<(), (String, String)> {
    if clusters.is_empty() {
        return Ok(());
    }
    let mut home: Option<String> = None;
    for (i, entry) in clusters.iter().enumerate() {
        let at = format!("clusters[{i}] ({:?})", entry.name);
        let fail = |field: &str, message: String| Err((format!("{at}{field}"), message));
        if !is_dns_label(&entry.name) {
            return Err((
                format!("clusters[{i}].name"),
                format!(
                    "{:?} is not a DNS label (lower-case letters, digits and '-', 1 to 63, starting and ending with a letter or digit)",
                    entry.name
                ),
            ));
        }
        if let Some(j) = clusters[..i].iter().position(|e| e.name == entry.name) {
            return fail("", format!("name already used by clusters[{j}]"));
        }
        match (&entry.context, &entry.kubeconfig_secret) {
            (Some(_), Some(_)) => return fail("", "both context and kubeconfigSecret set".into()),
            (None, None) => return fail("", "needs context or kubeconfigSecret".into()),
            (Some(context), None) if context.is_empty() => {
                return fail(".context", "is empty".into());
            }
            (None, Some(secret))
                if secret.namespace.is_empty()
                    || secret.name.is_empty()
                    || secret.key.is_empty() =>
            {
                return fail(
                    ".kubeconfigSecret",
                    "needs a namespace, a name and a key".into(),
                );
            }
            _ => {}
        }
        if entry.home {
            if let Some(first) = &home {
                return fail("", format!("home: true again ({first} is home already)"));
            }
            home = Some(at.clone());
        }
        if let Some(own) = &entry.policy {
            if !own.is_object() {
                return fail(
                    ".policy",
                    "must be an object (merged key by key over the top-level policy)".into(),
                );
            }
            if top_policy.is_some_and(|p| !p.is_null() && !p.is_object()) {
                return Err((
                    "policy".into(),
                    format!("must be an object for {at}'s policy to merge over it"),
                ));
            }
        }
        if let Some(grants) = &entry.grants
            && let Err((field, message)) = grants.validate()
        {
            return fail(&format!(".{field}"), message);
        }
    }
    if home.is_none() {
        return Err((
            "clusters".into(),
            "no entry has home: true (exactly one must: the cluster whose cert-manager issues the anchor)".into(),
        ));
    }
    Ok(())
}

/// An RFC 1123 label, as Kubernetes names namespaces.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}
