//! trust-manager: a Bundle's sources, deduplicated by SHA-256, written into
//! its target ConfigMap bundleSyncSeconds after any source changes, in the
//! namespaces its selector matches and, when trust-manager runs with
//! `--target-namespaces`, only those (`pkg/bundle/bundle.go` skips every
//! other namespace), with the marks trust-manager leaves on a target it
//! owns; and what a write of the trust-roots ConfigMap by anyone else does.
//! A ClusterBundle is written only where the cluster showed trust-manager
//! reconciling it (see `manifest::cluster_bundle`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::trust_manager::{BundleWriter, TrustManagerSetup};

use super::linkerd::{CONTROL_PLANE_NS, IDENTITY_ISSUER, TRUST_ROOTS};
use super::pki::{all_pem_blocks, der_to_pem, sha256_hex};
use super::world::{BundleId, Ev, World};

/// The label and annotation trust-manager puts on each target it owns
/// (trust-manager `pkg/apis/trust/v1alpha1`: `BundleLabelKey`,
/// `BundleHashAnnotationKey`).
pub use crate::linkerd::{
    BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL, CLUSTER_BUNDLE_HASH_ANNOTATION, CLUSTER_BUNDLE_LABEL,
};

/// trust-manager's trust namespace, where Bundle source Secrets live.
pub const TRUST_NAMESPACE: &str = crate::linkerd::CERT_MANAGER_NS;

impl World {
    /// A Secret changed: wake whoever watches it.
    pub fn secret_changed(&mut self, ns: &str, name: &str) {
        if ns == TRUST_NAMESPACE {
            for b in 0..self.bundles.len() {
                let uses = self.bundles[b]
                    .spec
                    .sources
                    .iter()
                    .any(|s| s.secret.as_ref().is_some_and(|r| r.name == name));
                if uses {
                    self.request_bundle_sync(b);
                }
            }
        }
        if ns == CONTROL_PLANE_NS && name == IDENTITY_ISSUER {
            self.issuer_secret_changed();
        }
    }

    /// A client wrote a ConfigMap. The trust roots reach the injector as
    /// a trust-manager sync would (each replica after its kubelet delay).
    /// A Bundle's target is restored by trust-manager, which watches its
    /// targets and re-applies its content over anyone else's
    /// (trust-manager `pkg/bundle/internal/target/target.go`: `needsUpdate`
    /// compares the owner, label and hash, and the apply forces ownership).
    pub fn config_map_written(&mut self, ns: &str, name: &str) {
        if ns == CONTROL_PLANE_NS && name == TRUST_ROOTS {
            let (now, content) = (self.now, self.current_roots_pem());
            if self
                .roots_history
                .last()
                .is_none_or(|(_, last)| *last != content)
            {
                self.roots_history.push((now, content));
            }
        }
        for b in 0..self.bundles.len() {
            if self.bundles[b].name == name && self.bundle_targets(b).iter().any(|t| t == ns) {
                self.request_bundle_sync(b);
            }
        }
    }

    /// The namespaces a Bundle writes its target into.
    fn bundle_targets(&self, b: BundleId) -> Vec<String> {
        // A selector that does not parse was refused at load.
        let selector = self.bundles[b]
            .namespace_selector
            .as_ref()
            .map(|s| s.selector().unwrap_or_default());
        let limit = self.spec.trust_manager_target_namespaces.as_ref();
        self.namespaces
            .values()
            .filter(|n| selector.as_ref().is_none_or(|s| s.matches(&n.labels)))
            .filter(|n| limit.is_none_or(|l| l.contains(&n.name)))
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn request_bundle_sync(&mut self, b: BundleId) {
        if self.bundles[b].reconciled && !self.bundles[b].sync_pending {
            self.bundles[b].sync_pending = true;
            let at = self.now + self.spec.timings.bundle_sync_seconds;
            self.schedule(at, Ev::BundleSync(b));
        }
    }

    /// The bundle content from its sources, or why it cannot be built,
    /// byte for byte as trust-manager writes it (`CertPool.PEM`,
    /// `pkg/util/cert_pool.go`): only CERTIFICATE blocks are accepted,
    /// certificates are de-duplicated and ordered by the SHA-256 of their
    /// DER, encoded with 64-column lines and joined with the final newline
    /// trimmed. The injector hashes these bytes into
    /// `linkerd.io/trust-root-sha256`, so they must match exactly.
    pub fn bundle_content(&self, b: BundleId) -> Result<String, String> {
        let mut certs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for source in &self.bundles[b].spec.sources {
            let pem: String = if let Some(r) = &source.secret {
                let s = self
                    .secrets
                    .get(&(TRUST_NAMESPACE.to_string(), r.name.clone()))
                    .ok_or_else(|| {
                        format!("source Secret {TRUST_NAMESPACE}/{} not found", r.name)
                    })?;
                let v = s.data.get(&r.key).ok_or_else(|| {
                    format!(
                        "source Secret {TRUST_NAMESPACE}/{} has no key {}",
                        r.name, r.key
                    )
                })?;
                String::from_utf8_lossy(v).into_owned()
            } else if let Some(r) = &source.config_map {
                let c = self
                    .config_maps
                    .get(&(TRUST_NAMESPACE.to_string(), r.name.clone()))
                    .ok_or_else(|| {
                        format!("source ConfigMap {TRUST_NAMESPACE}/{} not found", r.name)
                    })?;
                c.data.get(&r.key).map(|v| v.to_string()).ok_or_else(|| {
                    format!(
                        "source ConfigMap {TRUST_NAMESPACE}/{} has no key {}",
                        r.name, r.key
                    )
                })?
            } else if let Some(inline) = &source.in_line {
                inline.clone()
            } else {
                continue;
            };
            for (label, der) in all_pem_blocks(&pem).map_err(|e| e.to_string())? {
                if label != "CERTIFICATE" {
                    return Err(format!(
                        "invalid PEM block in bundle: only CERTIFICATE blocks are permitted but found '{label}'"
                    ));
                }
                certs.insert(sha256_hex(&der), der);
            }
        }
        let out: String = certs.values().map(|der| der_to_pem(der)).collect();
        Ok(out.trim_end().to_string())
    }

    pub fn sync_bundle(&mut self, b: BundleId) {
        self.bundles[b].sync_pending = false;
        if !self.bundles[b].reconciled {
            return;
        }
        let Ok(content) = self.bundle_content(b) else {
            // trust-manager reports Synced=False and keeps the old target.
            return;
        };
        let content: Arc<str> = Arc::from(content);
        let bundle = &self.bundles[b];
        let name = bundle.name.clone();
        let key = bundle
            .spec
            .target
            .config_map
            .as_ref()
            .map(|t| t.key.clone())
            .unwrap_or_else(|| "ca-bundle.crt".into());
        let hash = sha256_hex(content.as_bytes());
        for ns in self.bundle_targets(b) {
            let changed = self.put_config_map(&ns, &name, &key, content.clone());
            self.mark_bundle_target(b, &ns, &hash);
            if changed && ns == CONTROL_PLANE_NS && name == TRUST_ROOTS {
                let now = self.now;
                self.roots_history.push((now, content.clone()));
            }
        }
    }

    /// The bundles named like the trust-roots ConfigMap, as `status` sees
    /// them, and trust-manager's `--target-namespaces`.
    pub fn trust_manager_setup(&self) -> TrustManagerSetup {
        let bundles = self
            .bundles
            .iter()
            .filter(|b| b.name == TRUST_ROOTS)
            .map(|b| BundleWriter {
                kind: if b.cluster_bundle.is_some() {
                    "ClusterBundle"
                } else {
                    "Bundle"
                }
                .into(),
                name: b.name.clone(),
                secret_sources: b
                    .spec
                    .sources
                    .iter()
                    .filter_map(|s| s.secret.as_ref())
                    .map(|r| (r.name.clone(), r.key.clone()))
                    .collect(),
                target_key: b.spec.target.config_map.as_ref().map(|t| t.key.clone()),
                namespace_selector: b
                    .namespace_selector
                    .as_ref()
                    .map_or(Ok(String::new()), |s| s.selector().map(|s| s.to_string())),
                synced: match &b.cluster_bundle {
                    Some(cb) => cb
                        .status
                        .iter()
                        .flat_map(|s| &s.conditions)
                        .find(|c| c.type_ == "Synced")
                        .map(|c| c.status.clone()),
                    None => Some("True".to_string()),
                },
            })
            .collect();
        TrustManagerSetup {
            bundles,
            target_namespaces: self.spec.trust_manager_target_namespaces.clone(),
        }
    }

    /// The marks trust-manager applies to every target it owns: the label
    /// `trust.cert-manager.io/bundle: <Bundle>` and the annotation
    /// `trust.cert-manager.io/hash`, the SHA-256 of the PEM (plus the
    /// target's own labels and annotations, none here), beside a controller
    /// owner reference to the Bundle the simulator does not model
    /// (trust-manager `pkg/bundle/internal/target/target.go`:
    /// `prepareTargetPatch`, `TrustBundleHash`).
    /// A ClusterBundle's target gets the `trust-manager.io/` keys instead.
    fn mark_bundle_target(&mut self, b: BundleId, ns: &str, hash: &str) {
        let name = self.bundles[b].name.clone();
        let name = name.as_str();
        let (label_key, hash_key) = if self.bundles[b].cluster_bundle.is_some() {
            (CLUSTER_BUNDLE_LABEL, CLUSTER_BUNDLE_HASH_ANNOTATION)
        } else {
            (BUNDLE_LABEL, BUNDLE_HASH_ANNOTATION)
        };
        let Some(cm) = self
            .config_maps
            .get_mut(&(ns.to_string(), name.to_string()))
        else {
            return;
        };
        let label = cm.labels.insert(label_key.into(), name.into());
        let annotation = cm.annotations.insert(hash_key.into(), hash.into());
        let changed = label.as_deref() != Some(name) || annotation.as_deref() != Some(hash);
        if changed {
            let rv = self.next_rv();
            if let Some(cm) = self
                .config_maps
                .get_mut(&(ns.to_string(), name.to_string()))
            {
                cm.resource_version = rv;
            }
        }
    }
}
