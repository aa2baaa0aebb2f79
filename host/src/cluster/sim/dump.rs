//! The whole simulated cluster as a scenario that loads again: ordinary
//! Kubernetes objects plus a Simulation document whose clock is now.
//!
//! What the model holds beyond Kubernetes fields (a proxy's leaf, the
//! identity controller's roots and issuer) rides in `sim.rotor.dev/`
//! annotations, which the loader reads back and removes.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;
use serde_norway::{Mapping, Value};

use crate::wit::{Condition, EventType, WorkloadKind};

use super::linkerd::{CONTROL_PLANE_NS, IDENTITY_ISSUER, PROXY_CONTAINER, TRUST_ANCHORS_ENV};
use super::load::{
    IDENTITY_ISSUER_ANNOTATION, IDENTITY_ROOTS_ANNOTATION, INITIAL_ANCHOR_ANNOTATION,
    INITIAL_ISSUER_ANNOTATION, LEAF_ANNOTATION, NEVER_READY_ANNOTATION,
};
use super::manifest::{
    CertificateObject, CertificateStatus, ConfigMapObject, Container, EnvVar, IssuerObject,
    KubeCondition, Meta, NamespaceObject, OwnerReference, PodObject, PodSpec, PodStatus,
    SecretObject, WorkloadObject, WorkloadStatus,
};
use super::scenario::{EventObject, EventSource, InvolvedObject};
use super::world::{Pod, World, rfc3339};

/// One YAML document: apiVersion and kind, then the object's fields.
#[derive(Serialize)]
struct Doc<'a, T: Serialize> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// An object the model reads only the metadata of (a custom owner's
/// ReplicaSet).
#[derive(Serialize)]
struct MetadataOnly {
    metadata: Meta,
}

fn doc<T: Serialize>(api_version: &str, kind: &str, object: &T) -> String {
    let mut out = String::from("---\n");
    out.push_str(
        &serde_norway::to_string(&Doc {
            api_version,
            kind,
            body: object,
        })
        .unwrap_or_default(),
    );
    out
}

fn meta(name: &str, namespace: Option<&str>) -> Meta {
    Meta {
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        ..Meta::default()
    }
}

fn kube_condition(c: &Condition) -> KubeCondition {
    KubeCondition {
        type_: c.type_.clone(),
        status: c.status.clone(),
        reason: Some(c.reason.clone()).filter(|s| !s.is_empty()),
        message: Some(c.message.clone()).filter(|s| !s.is_empty()),
        observed_generation: c.observed_generation,
        last_transition_time: c.last_transition_time.map(rfc3339),
    }
}

impl World {
    pub fn state_yaml(&self) -> String {
        let mut docs: Vec<String> = Vec::new();
        for n in self.namespaces.values() {
            let mut m = meta(&n.name, None);
            m.labels = n.labels.clone();
            m.annotations = n.annotations.clone();
            docs.push(doc("v1", "Namespace", &NamespaceObject { metadata: m }));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for ((ns, name), s) in &self.secrets {
            let mut m = meta(name, Some(ns));
            m.labels = s.labels.clone();
            m.annotations = s.annotations.clone();
            m.resource_version = Some(s.resource_version.to_string());
            docs.push(doc(
                "v1",
                "Secret",
                &SecretObject {
                    metadata: m,
                    type_: Some(s.type_.clone()),
                    data: s
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), b64.encode(v)))
                        .collect(),
                    string_data: Default::default(),
                },
            ));
        }
        for ((ns, name), c) in &self.config_maps {
            let mut m = meta(name, Some(ns));
            m.labels = c.labels.clone();
            m.annotations = c.annotations.clone();
            m.resource_version = Some(c.resource_version.to_string());
            docs.push(doc(
                "v1",
                "ConfigMap",
                &ConfigMapObject {
                    metadata: m,
                    data: c
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect(),
                },
            ));
        }
        for i in self.issuers.values() {
            // The spec as it is now: a CA issuer shows the Secret it
            // signs from since the last `set-ca-issuer-secret`.
            let mut m = meta(&i.name, i.namespace.as_deref());
            m.labels = i.labels.clone();
            m.annotations = i.annotations.clone();
            m.generation = Some(i.generation);
            let kind = if i.namespace.is_some() {
                "Issuer"
            } else {
                "ClusterIssuer"
            };
            docs.push(doc(
                "cert-manager.io/v1",
                kind,
                &IssuerObject {
                    metadata: m,
                    spec: i.spec.clone(),
                },
            ));
        }
        for c in &self.certificates {
            let mut m = meta(&c.name, Some(&c.namespace));
            m.labels = c.labels.clone();
            m.annotations = c.annotations.clone();
            m.generation = Some(c.generation);
            docs.push(doc(
                "cert-manager.io/v1",
                "Certificate",
                &CertificateObject {
                    metadata: m,
                    spec: c.spec.clone(),
                    status: Some(CertificateStatus {
                        conditions: c.conditions.iter().map(kube_condition).collect(),
                        revision: c.revision,
                        not_before: c.not_before.map(rfc3339),
                        not_after: c.not_after.map(rfc3339),
                        renewal_time: c.renewal_time.map(rfc3339),
                        last_failure_time: c.last_failure.map(rfc3339),
                    }),
                },
            ));
        }
        for b in &self.bundles {
            if let Some(cb) = &b.cluster_bundle {
                docs.push(doc("trust-manager.io/v1alpha2", "ClusterBundle", cb));
                continue;
            }
            let mut m = meta(&b.name, None);
            m.labels = b.labels.clone();
            m.annotations = b.annotations.clone();
            docs.push(doc(
                "trust.cert-manager.io/v1alpha1",
                "Bundle",
                &super::manifest::BundleObject {
                    metadata: m,
                    spec: b.spec.clone(),
                },
            ));
        }
        for wl in 0..self.workloads.len() {
            docs.push(self.workload_doc(wl));
        }
        for pid in self.pod_ids(None) {
            docs.push(self.pod_doc(self.pod(pid)));
        }
        docs.extend(self.foreign_replica_set_docs());
        for e in &self.events {
            let mut m = meta(
                &format!(
                    "{}.{}",
                    e.involved.name,
                    crate::cluster::sim::world::short_hash(
                        &format!("{}{}{}", e.reason, e.message, e.first),
                        10
                    )
                ),
                Some(if e.involved.namespace.is_empty() {
                    "default"
                } else {
                    &e.involved.namespace
                }),
            );
            m.resource_version = None;
            docs.push(doc(
                "v1",
                "Event",
                &EventObject {
                    metadata: m,
                    involved_object: InvolvedObject {
                        kind: e.involved.kind.clone(),
                        namespace: Some(e.involved.namespace.clone()).filter(|s| !s.is_empty()),
                        name: e.involved.name.clone(),
                    },
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    type_: match e.type_ {
                        EventType::Normal => "Normal".into(),
                        EventType::Warning => "Warning".into(),
                    },
                    count: Some(e.count),
                    first_timestamp: Some(rfc3339(e.first)),
                    last_timestamp: Some(rfc3339(e.last)),
                    source: Some(EventSource {
                        component: e.source.clone(),
                    }),
                },
            ));
        }
        docs.push(self.simulation_doc());
        docs.concat()
    }

    fn simulation_doc(&self) -> String {
        let mut spec = self.spec.clone();
        spec.start_time = rfc3339(self.now);
        let mut m = meta("rotor", None);
        if let Some(a) = self.initial_anchor {
            m.annotations.insert(
                INITIAL_ANCHOR_ANNOTATION.into(),
                self.pki.get(a).fingerprint.clone(),
            );
        }
        if let Some(i) = self.initial_issuer {
            m.annotations.insert(
                INITIAL_ISSUER_ANNOTATION.into(),
                self.pki.get(i).fingerprint.clone(),
            );
        }
        let mut map = Mapping::new();
        map.insert("apiVersion".into(), "rotor.dev/v1alpha1".into());
        map.insert("kind".into(), "Simulation".into());
        map.insert(
            "metadata".into(),
            serde_norway::to_value(&m).unwrap_or(Value::Null),
        );
        map.insert(
            "spec".into(),
            serde_norway::to_value(&spec).unwrap_or(Value::Null),
        );
        format!(
            "---\n{}",
            serde_norway::to_string(&Value::Mapping(map)).unwrap_or_default()
        )
    }

    fn workload_doc(&self, wl: usize) -> String {
        let w = &self.workloads[wl];
        let c = self.counts(wl);
        let mut m = meta(&w.name, Some(&w.namespace));
        m.labels = w.labels.clone();
        m.annotations = w.annotations.clone();
        m.generation = Some(w.generation);
        m.annotations.insert(
            "sim.rotor.dev/template-hash".into(),
            w.template_hash.clone(),
        );
        let mut status = WorkloadStatus {
            observed_generation: Some(w.observed_generation),
            ..WorkloadStatus::default()
        };
        match w.kind {
            WorkloadKind::Deployment | WorkloadKind::StatefulSet => {
                status.replicas = Some(c.current);
                status.updated_replicas = Some(c.updated);
                status.ready_replicas = Some(c.ready);
                status.available_replicas = Some(c.available);
            }
            WorkloadKind::DaemonSet => {
                status.desired_number_scheduled = Some(c.desired);
                status.current_number_scheduled = Some(c.current);
                status.updated_number_scheduled = Some(c.updated);
                status.number_ready = Some(c.ready);
                status.number_available = Some(c.available);
            }
        }
        if w.kind == WorkloadKind::StatefulSet {
            status.update_revision = Some(format!("{}-{}", w.name, w.template_hash));
            status.current_revision = Some(format!("{}-{}", w.name, w.current_hash));
        }
        if let Some((ok, reason, message)) = &w.progressing {
            status.conditions.push(KubeCondition {
                type_: "Progressing".into(),
                status: if *ok { "True" } else { "False" }.into(),
                reason: Some(reason.clone()),
                message: Some(message.clone()),
                observed_generation: None,
                last_transition_time: None,
            });
        }
        doc(
            "apps/v1",
            w.kind.as_kind(),
            &WorkloadObject {
                metadata: m,
                spec: w.spec.clone(),
                status: Some(status),
            },
        )
    }

    /// The ReplicaSets of custom owners (a Rollout's) that pods name, so a
    /// reload lists those pods under the same owner.
    fn foreign_replica_set_docs(&self) -> Vec<String> {
        let mut sets = BTreeMap::new();
        for pid in self.pod_ids(None) {
            let p = self.pod(pid);
            if let Some(f) = &p.foreign
                && let Some(rs) = f.replica_set()
            {
                sets.insert((p.namespace.clone(), rs.to_string()), f.owner.clone());
            }
        }
        sets.into_iter()
            .map(|((ns, name), owner)| {
                let mut m = meta(&name, Some(&ns));
                m.owner_references.push(owner);
                doc("apps/v1", "ReplicaSet", &MetadataOnly { metadata: m })
            })
            .collect()
    }

    fn pod_doc(&self, p: &Pod) -> String {
        let mut m = meta(&p.name, Some(&p.namespace));
        m.labels = (*p.labels).clone();
        m.annotations = (*p.annotations).clone();
        m.creation_timestamp = Some(rfc3339(p.created));
        m.deletion_timestamp = p.gone_at.map(rfc3339);
        if let Some(wl) = p.owner {
            let w = &self.workloads[wl];
            let (kind, name) = match w.kind {
                WorkloadKind::Deployment => {
                    ("ReplicaSet", format!("{}-{}", w.name, p.template_hash))
                }
                WorkloadKind::StatefulSet => ("StatefulSet", w.name.clone()),
                WorkloadKind::DaemonSet => ("DaemonSet", w.name.clone()),
            };
            m.owner_references.push(OwnerReference {
                api_version: "apps/v1".into(),
                kind: kind.into(),
                name,
                controller: Some(true),
            });
        }
        if let Some(f) = &p.foreign {
            m.owner_references.push(f.reference.clone());
        }
        if p.mesh != super::world::Mesh::Off && p.running {
            let leaf = match p.leaf {
                Some(l) => format!(
                    "{} {} {}",
                    self.pki.get(l.issuer).fingerprint,
                    self.pki.get(l.anchor).fingerprint,
                    l.not_after
                ),
                None => "none".into(),
            };
            m.annotations.insert(LEAF_ANNOTATION.into(), leaf);
        }
        if p.never_ready {
            m.annotations
                .insert(NEVER_READY_ANNOTATION.into(), "true".into());
        }
        if let Some(ctl) = p.identity {
            let roots = self.outage.roots(ctl.roots);
            let pem: String = roots
                .iter()
                .filter_map(|&a| self.pki.get(a).pem())
                .collect();
            m.annotations.insert(IDENTITY_ROOTS_ANNOTATION.into(), pem);
            let issuer = ctl
                .issuer
                .and_then(|i| self.pki.get(i).pem())
                .unwrap_or_else(|| "none".into());
            m.annotations
                .insert(IDENTITY_ISSUER_ANNOTATION.into(), issuer);
        }
        let proxy_env = p.roots_pem.as_ref().map(|pem| EnvVar {
            name: TRUST_ANCHORS_ENV.into(),
            value: Some(pem.to_string()),
        });
        let container = |name: &String| Container {
            name: name.clone(),
            image: None,
            env: if name == PROXY_CONTAINER {
                proxy_env.clone().into_iter().collect()
            } else {
                Vec::new()
            },
            restart_policy: None,
        };
        // Only the proxy is an init container in the model: a native sidecar.
        let init_container = |name: &String| Container {
            restart_policy: (name == PROXY_CONTAINER).then(|| "Always".into()),
            ..container(name)
        };
        let status = PodStatus {
            phase: Some(p.phase().into()),
            conditions: vec![KubeCondition {
                type_: "Ready".into(),
                status: if p.ready { "True" } else { "False" }.into(),
                ..KubeCondition::default()
            }],
            start_time: p.start_time.map(rfc3339),
        };
        doc(
            "v1",
            "Pod",
            &PodObject {
                metadata: m,
                spec: PodSpec {
                    containers: p.containers.iter().map(container).collect(),
                    init_containers: p.init_containers.iter().map(init_container).collect(),
                    node_name: Some(p.node.clone()),
                },
                status: Some(status),
            },
        )
    }

    /// The anchor that signs identity's issuer now (see
    /// `signing_anchor_secret`), without interning anything.
    pub fn current_anchor(&self) -> Option<super::pki::CertId> {
        let (ns, name) = self.signing_anchor_secret();
        self.secret_cert_readonly(&ns, &name)
    }

    /// The anchors a Certificate still holds.
    /// The CAs held now: what CA Certificates write, and what CA issuers
    /// sign from (a member's copy of the home's anchor has no Certificate).
    pub fn held_anchors(&self) -> Vec<super::pki::CertId> {
        let issued = self
            .ca_certificate_secrets()
            .filter_map(|(ns, name)| self.secret_cert_readonly(ns, name));
        let signing = self.issuers.values().filter_map(|rec| {
            let ca = rec.spec.ca.as_ref()?;
            self.secret_cert_readonly(&World::issuer_secret_namespace(rec), &ca.secret_name)
        });
        let mut held: Vec<_> = issued.chain(signing).collect();
        held.sort_unstable();
        held.dedup();
        held
    }

    pub fn current_issuer(&self) -> Option<super::pki::CertId> {
        self.secret_cert_readonly(CONTROL_PLANE_NS, IDENTITY_ISSUER)
    }

    fn secret_cert_readonly(&self, ns: &str, name: &str) -> Option<super::pki::CertId> {
        let pem = self
            .secrets
            .get(&(ns.to_string(), name.to_string()))?
            .data
            .get("tls.crt")?;
        let der = super::pki::pem_blocks(&String::from_utf8_lossy(pem)).ok()?;
        let fp = super::pki::sha256_hex(der.first()?);
        self.pki.by_fingerprint(&fp)
    }
}
