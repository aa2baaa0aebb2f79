//! The scenario's objects as typed records: Namespaces, Secrets,
//! ConfigMaps, issuers, Certificates, Bundles and Events go straight into
//! the world; workloads, ReplicaSets and pods wait for the trust setup to
//! settle, since a pod's proxy needs the roots of a converged mesh.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;

use crate::wit::{EventType, ObjectRef, WorkloadKind};

use super::{condition_from, invalid, namespace_of, relocate, to_kv_time};
use crate::cluster::sim::manifest::{
    BundleObject, CertificateObject, ClusterBundleObject, ConfigMapObject, IssuerObject,
    LabelSelector, Meta, OwnerReference, PodObject, SecretObject, WorkloadObject,
};
use crate::cluster::sim::scenario::{EventObject, Located, Object, ScenarioError};
use crate::cluster::sim::world::{
    BundleRec, CertificateRec, ConfigMapRec, EventRec, IssuerRec, Namespace, SecretRec, World,
};

/// What loads only after the trust setup: each object with the document
/// and description a load error about it names.
#[derive(Default)]
pub(super) struct Deferred {
    pub workloads: Vec<(WorkloadKind, WorkloadObject, String, String)>,
    pub pods: Vec<(PodObject, String, String)>,
    /// (namespace, ReplicaSet) -> owning Deployment.
    pub replica_sets: HashMap<(String, String), String>,
    /// (namespace, ReplicaSet) -> its controller of a kind the model does
    /// not run (an Argo Rollout's).
    pub foreign_replica_sets: HashMap<(String, String), OwnerReference>,
}

impl World {
    /// Turn every object into its record, or set it aside in [`Deferred`].
    pub(super) fn load_objects(
        &mut self,
        objects: Vec<Located>,
    ) -> Result<Deferred, ScenarioError> {
        let mut deferred = Deferred::default();
        for Located { doc, what, object } in objects {
            let at = |e: ScenarioError| relocate(e, &doc, &what);
            match object {
                Object::Namespace(n) => {
                    self.namespaces.insert(
                        n.metadata.name.clone(),
                        Namespace {
                            name: n.metadata.name,
                            labels: n.metadata.labels,
                            annotations: n.metadata.annotations,
                        },
                    );
                }
                Object::Deployment(o) => deferred.workloads.push((
                    WorkloadKind::Deployment,
                    o,
                    doc.clone(),
                    what.clone(),
                )),
                Object::StatefulSet(o) => deferred.workloads.push((
                    WorkloadKind::StatefulSet,
                    o,
                    doc.clone(),
                    what.clone(),
                )),
                Object::DaemonSet(o) => {
                    deferred
                        .workloads
                        .push((WorkloadKind::DaemonSet, o, doc.clone(), what.clone()))
                }
                Object::ReplicaSet(rs) => {
                    let ns = rs.metadata.namespace.clone().unwrap_or_default();
                    let key = (ns, rs.metadata.name.clone());
                    let refs = &rs.metadata.owner_references;
                    if let Some(owner) = refs.iter().find(|o| o.kind == "Deployment") {
                        deferred.replica_sets.insert(key, owner.name.clone());
                    } else if let Some(owner) = refs.iter().find(|o| o.controller.unwrap_or(true)) {
                        deferred.foreign_replica_sets.insert(key, owner.clone());
                    }
                }
                Object::Pod(p) => deferred.pods.push((p, doc.clone(), what.clone())),
                Object::Secret(s) => self.load_secret(s).map_err(at)?,
                Object::ConfigMap(c) => self.load_config_map(c).map_err(at)?,
                Object::Issuer(i) => {
                    let ns = namespace_of(&i.metadata, "Issuer").map_err(at)?;
                    self.load_issuer(Some(ns), i);
                }
                Object::ClusterIssuer(i) => self.load_issuer(None, i),
                Object::Certificate(c) => self.load_certificate(c).map_err(at)?,
                Object::Bundle(b) => self.load_bundle(b).map_err(at)?,
                Object::ClusterBundle(b) => self.load_cluster_bundle(b).map_err(at)?,
                Object::Event(e) => self.load_event(e),
            }
        }
        Ok(deferred)
    }

    fn load_secret(&mut self, s: SecretObject) -> Result<(), ScenarioError> {
        let ns = namespace_of(&s.metadata, "Secret")?;
        let mut data = BTreeMap::new();
        for (k, v) in &s.data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|e| {
                    invalid(format!(
                        "Secret {ns}/{}: data.{k} is not base64: {e}",
                        s.metadata.name
                    ))
                })?;
            data.insert(k.clone(), bytes);
        }
        for (k, v) in &s.string_data {
            data.insert(k.clone(), v.clone().into_bytes());
        }
        let rv = self.loaded_rv(&s.metadata);
        self.secrets.insert(
            (ns, s.metadata.name.clone()),
            SecretRec {
                type_: s.type_.unwrap_or_else(|| "Opaque".into()),
                data,
                labels: s.metadata.labels,
                annotations: s.metadata.annotations,
                resource_version: rv,
            },
        );
        Ok(())
    }

    fn load_config_map(&mut self, c: ConfigMapObject) -> Result<(), ScenarioError> {
        let ns = namespace_of(&c.metadata, "ConfigMap")?;
        let rv = self.loaded_rv(&c.metadata);
        self.config_maps.insert(
            (ns, c.metadata.name.clone()),
            ConfigMapRec {
                data: c.data.into_iter().map(|(k, v)| (k, Arc::from(v))).collect(),
                labels: c.metadata.labels,
                annotations: c.metadata.annotations,
                resource_version: rv,
            },
        );
        Ok(())
    }

    /// An Issuer in `namespace`, or a ClusterIssuer (`None`).
    fn load_issuer(&mut self, namespace: Option<String>, i: IssuerObject) {
        self.issuers.insert(
            (
                namespace.clone().unwrap_or_default(),
                i.metadata.name.clone(),
            ),
            IssuerRec {
                namespace,
                name: i.metadata.name,
                labels: i.metadata.labels,
                annotations: i.metadata.annotations,
                spec: i.spec,
                generation: i.metadata.generation.unwrap_or(1),
            },
        );
    }

    fn load_certificate(&mut self, c: CertificateObject) -> Result<(), ScenarioError> {
        let ns = namespace_of(&c.metadata, "Certificate")?;
        let status = c.status.unwrap_or_default();
        let rec = CertificateRec {
            namespace: ns.clone(),
            name: c.metadata.name.clone(),
            labels: c.metadata.labels,
            annotations: c.metadata.annotations,
            spec: c.spec,
            generation: c.metadata.generation.unwrap_or(1),
            revision: status.revision,
            conditions: status.conditions.iter().map(condition_from).collect(),
            not_before: to_kv_time(&status.not_before),
            not_after: to_kv_time(&status.not_after),
            renewal_time: to_kv_time(&status.renewal_time),
            last_failure: to_kv_time(&status.last_failure_time),
            issue_token: 0,
            failed_attempts: 0,
        };
        let id = self.certificates.len();
        self.certificate_index.insert((ns, rec.name.clone()), id);
        self.certificates.push(rec);
        if let Err(e) = self.certificate_durations(id) {
            return Err(invalid(format!("spec: {e}")));
        }
        if let Err(e) = crate::cluster::sim::keys::Profile::of(&self.certificates[id].spec) {
            return Err(invalid(format!("spec: {e}")));
        }
        Ok(())
    }

    fn load_bundle(&mut self, b: BundleObject) -> Result<(), ScenarioError> {
        let selector = b.spec.target.namespace_selector.clone();
        check_namespace_selector(&selector)?;
        self.bundles.push(BundleRec {
            name: b.metadata.name,
            labels: b.metadata.labels,
            annotations: b.metadata.annotations,
            spec: b.spec,
            namespace_selector: selector,
            sync_pending: false,
            cluster_bundle: None,
            reconciled: true,
        });
        Ok(())
    }

    /// A ClusterBundle joins the Bundles with the sources and target it
    /// names; trust-manager writes it only if the cluster showed it does.
    fn load_cluster_bundle(&mut self, b: ClusterBundleObject) -> Result<(), ScenarioError> {
        let spec = b.bundle_spec().map_err(ScenarioError::Invalid)?;
        let selector = spec.target.namespace_selector.clone();
        check_namespace_selector(&selector)?;
        self.bundles.push(BundleRec {
            name: b.metadata.name.clone(),
            labels: b.metadata.labels.clone(),
            annotations: b.metadata.annotations.clone(),
            spec,
            namespace_selector: selector,
            sync_pending: false,
            reconciled: b.reconciled(),
            cluster_bundle: Some(b),
        });
        Ok(())
    }

    fn load_event(&mut self, e: EventObject) {
        let type_ = if e.type_ == "Warning" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let first = to_kv_time(&e.first_timestamp).unwrap_or(self.now);
        self.events.push(EventRec {
            involved: ObjectRef {
                kind: e.involved_object.kind,
                namespace: e.involved_object.namespace.unwrap_or_default(),
                name: e.involved_object.name,
            },
            type_,
            reason: e.reason,
            message: e.message,
            count: e.count.unwrap_or(1),
            first,
            last: to_kv_time(&e.last_timestamp).unwrap_or(first),
            source: e.source.map(|s| s.component).unwrap_or_default(),
            emitter: 0,
        });
    }

    fn loaded_rv(&mut self, meta: &Meta) -> u64 {
        match meta
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
        {
            Some(rv) => {
                self.resource_version = self.resource_version.max(rv);
                rv
            }
            None => self.next_rv(),
        }
    }
}

/// A bundle's namespace selector must be one the API server would take.
fn check_namespace_selector(selector: &Option<LabelSelector>) -> Result<(), ScenarioError> {
    match selector {
        Some(s) => s
            .selector()
            .map(drop)
            .map_err(|e| ScenarioError::Invalid(format!("spec.target.namespaceSelector.{e}"))),
        None => Ok(()),
    }
}
