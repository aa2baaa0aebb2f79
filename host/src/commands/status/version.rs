//! The control plane's Linkerd version in `rotor status`, and what it
//! implies for a rotation: read from `linkerd-config` as Linkerd's chart
//! writes it (its values' `linkerdVersion`, else its `linkerd.io/created-by`
//! annotation), judged by the rules the default policy's preflight applies
//! (`rotor_trust_lint::version`), with the proxies that run another version.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rotor_trust_lint::version::{
    self, CREATED_BY_ANNOTATION, LINKERD_CONFIG, LinkerdVersion, PROXY_VERSION_ANNOTATION,
    VALUES_KEY,
};
use serde::Serialize;

use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::CONTROL_PLANE_NS;
use crate::wit::Pod;

/// What status found of the control plane's version.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LinkerdStatus {
    /// The version string, as the control plane wrote it.
    pub version: Option<String>,
    /// Where it was read, or why it is unknown.
    pub source: String,
    /// Whether the version is a release rotor can judge (`edge-`,
    /// `stable-`, `enterprise-`); nothing is inferred from others.
    pub recognised: bool,
    /// The control plane reads its roots from `linkerd-identity-trust-roots`.
    pub trust_roots_config_map: Option<bool>,
    /// Identity exports `issuer_cert_ttl_seconds`.
    pub issuer_ttl_metric: Option<bool>,
    /// The chart's `proxy.nativeSidecar`, from `linkerd-config`'s values.
    pub native_sidecar: Option<bool>,
    /// The leaves' lifetime in seconds (`identity.issuer.issuanceLifetime`
    /// in `linkerd-config`'s values): how long `adoptNewIssuer:
    /// leaf-refresh` pauses after identity's reload.
    pub leaf_lifetime_seconds: Option<i64>,
    /// Why the next rotation would refuse this control plane.
    pub refusal: Option<String>,
    /// Meshed proxies whose `linkerd.io/proxy-version` differs from the
    /// control plane's, by version.
    pub other_proxy_versions: BTreeMap<String, u32>,
}

/// `proxy.nativeSidecar` in the chart's values.
fn native_sidecar(values: &str) -> Option<bool> {
    let v: serde_norway::Value = serde_norway::from_str(values).ok()?;
    v.get("proxy")?.get("nativeSidecar")?.as_bool()
}

/// Read `linkerd/linkerd-config` and judge the version it names; `pods`
/// are the meshed proxies status counts.
pub async fn collect(cluster: &dyn Cluster, pods: &[Pod]) -> Result<LinkerdStatus, ClusterError> {
    let where_ = format!("{CONTROL_PLANE_NS}/{LINKERD_CONFIG}");
    let cm = match cluster
        .read_config_map(CONTROL_PLANE_NS, LINKERD_CONFIG)
        .await
    {
        Ok(cm) => cm,
        Err(ClusterError::NotFound(_)) => {
            return Ok(LinkerdStatus {
                source: format!("{where_} not found"),
                ..LinkerdStatus::default()
            });
        }
        Err(ClusterError::Denied(why)) => {
            return Ok(LinkerdStatus {
                source: format!("{where_} not readable ({why})"),
                ..LinkerdStatus::default()
            });
        }
        Err(e) => return Err(e),
    };
    let values = cm.data.iter().find(|kv| kv.key == VALUES_KEY);
    let from_values = values.and_then(|kv| version::from_values(&kv.value));
    let created_by = cm
        .annotations
        .iter()
        .find(|kv| kv.key == CREATED_BY_ANNOTATION)
        .and_then(|kv| version::from_created_by(&kv.value));
    let (raw, source) = match (from_values, created_by) {
        (Some(v), _) => (v, format!("{where_} values (linkerdVersion)")),
        (None, Some(v)) => (v, format!("{where_} {CREATED_BY_ANNOTATION}")),
        (None, None) => {
            return Ok(LinkerdStatus {
                source: format!("{where_} names no version"),
                native_sidecar: values.and_then(|kv| native_sidecar(&kv.value)),
                ..LinkerdStatus::default()
            });
        }
    };
    let v = LinkerdVersion::parse(&raw);
    let mut other_proxy_versions = BTreeMap::new();
    for p in pods {
        if let Some(pv) = p
            .annotations
            .iter()
            .find(|kv| kv.key == PROXY_VERSION_ANNOTATION)
            .filter(|kv| kv.value != raw)
        {
            *other_proxy_versions.entry(pv.value.clone()).or_default() += 1;
        }
    }
    Ok(LinkerdStatus {
        recognised: v.is_known(),
        trust_roots_config_map: v.has_trust_roots_config_map(),
        issuer_ttl_metric: v.has_issuer_ttl_metric(),
        native_sidecar: values.and_then(|kv| native_sidecar(&kv.value)),
        leaf_lifetime_seconds: values
            .and_then(|kv| version::issuance_lifetime(&kv.value))
            .and_then(Result::ok),
        refusal: v.refusal(),
        version: Some(raw),
        source,
        other_proxy_versions,
    })
}

fn yes_no(v: Option<bool>, unknown: &str) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => unknown.into(),
    }
}

impl LinkerdStatus {
    /// The text section: the version, then what it implies.
    pub fn render_text(&self, out: &mut String) {
        let Some(v) = &self.version else {
            let _ = writeln!(out, "\nlinkerd: version unknown ({})", self.source);
            return;
        };
        let _ = writeln!(out, "\nlinkerd {v} (from {}):", self.source);
        if !self.recognised {
            let _ = writeln!(
                out,
                "  not a release rotor knows (edge-, stable-, enterprise-): nothing inferred"
            );
        }
        let _ = writeln!(
            out,
            "  trust roots from the linkerd-identity-trust-roots ConfigMap: {}",
            yes_no(self.trust_roots_config_map, "unknown for this version")
        );
        let _ = writeln!(
            out,
            "  identity exports issuer_cert_ttl_seconds: {}",
            yes_no(self.issuer_ttl_metric, "unknown for this version")
        );
        let _ = writeln!(
            out,
            "  proxies injected as native sidecars by default: {}",
            yes_no(self.native_sidecar, "unknown (no proxy.nativeSidecar)")
        );
        match self.leaf_lifetime_seconds {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "  leaves live {s} s (issuanceLifetime): adoptNewIssuer: leaf-refresh finishes a rotation a run at least that long after identity's reload"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  leaves live: not stated (no issuanceLifetime; Linkerd's default is 24h)"
                );
            }
        }
        let others: u32 = self.other_proxy_versions.values().sum();
        if others == 0 {
            let _ = writeln!(out, "  meshed proxies on another version: none");
        } else {
            let list: Vec<String> = self
                .other_proxy_versions
                .iter()
                .map(|(v, n)| format!("{v} ({n})"))
                .collect();
            let _ = writeln!(
                out,
                "  meshed proxies on another version: {others}: {}",
                list.join(", ")
            );
        }
    }
}
