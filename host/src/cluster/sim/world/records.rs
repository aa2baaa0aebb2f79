//! The records the world keeps, one type per kind of object: what the
//! simulator models of a Namespace, workload, pod, Secret, ConfigMap,
//! Certificate, issuer, Bundle and Event, and the ids that index them.
//! Plain data; the world's operations on them live beside this file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::cluster::sim::foreign::ForeignOwner;
use crate::cluster::sim::manifest::{
    BundleSpec, CertificateSpec, ClusterBundleObject, IssuerSpec, LabelSelector, Labels,
    WorkloadSpec,
};
use crate::cluster::sim::outage::{ClassId, RootsId, UnitId};
use crate::cluster::sim::pki::CertId;
use crate::wit::{Condition, EventType, ObjectRef, WorkloadKind};

pub type WlId = usize;
pub type PodId = usize;
pub type CertRecId = usize;
pub type BundleId = usize;

/// How a workload's pods get their proxy, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mesh {
    Off,
    /// Injected at admission; roots snapshotted from the injector's mounted bundle.
    Injected,
    /// A control-plane pod: roots read from the ConfigMap at container start.
    ControlPlane,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// As loaded; the template's annotations change on restart.
    pub spec: WorkloadSpec,
    pub selector_string: String,
    pub generation: i64,
    pub observed_generation: i64,
    /// Hash of the current pod template (pod-template-hash / controller-revision-hash).
    pub template_hash: String,
    /// StatefulSet: the revision pods below the partition keep.
    pub current_hash: String,
    /// Pods owned, terminating ones included until they are gone.
    pub pods: BTreeSet<PodId>,
    /// Deployments: the Progressing condition (status, reason, message).
    pub progressing: Option<(bool, String, String)>,
    pub last_progress: i64,
    pub mesh: Mesh,
    pub never_ready: bool,
    pub reconcile_pending: bool,
    pub unit: UnitId,
    /// What pods of the current revision look like after admission.
    pub pod_parts: Option<PodParts>,
    /// Injected ahead of time (`linkerd inject --manual`, rendered
    /// manifests): the template carries the proxy and these trust roots, and
    /// the injector leaves its pods alone, so no restart changes them.
    pub pre_injected_roots: Option<Arc<str>>,
}

/// The labels, annotations and containers every pod of one revision gets,
/// built once and shared (thousands of pods roll at once).
#[derive(Debug, Clone)]
pub struct PodParts {
    pub hash: String,
    pub labels: Arc<Labels>,
    pub annotations: Arc<Labels>,
    pub containers: Arc<Vec<String>>,
    pub init_containers: Arc<Vec<String>>,
    /// The annotations with one trust-root-sha256 added.
    pub with_roots: Option<(String, Arc<Labels>)>,
}

impl Workload {
    pub fn reference(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind.as_kind(), self.name)
    }

    pub fn strategy_type(&self) -> &str {
        let s = match self.kind {
            WorkloadKind::Deployment => self.spec.strategy.as_ref(),
            _ => self.spec.update_strategy.as_ref(),
        };
        s.and_then(|s| s.type_.as_deref())
            .unwrap_or("RollingUpdate")
    }
}

/// A proxy's leaf certificate, as a record: who issued it and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub issuer: CertId,
    pub anchor: CertId,
    pub not_after: i64,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub uid: u64,
    pub namespace: String,
    pub name: String,
    pub owner: Option<WlId>,
    /// The controller that owns the pod when it is no workload of the
    /// model's (`owner` is then `None`).
    pub foreign: Option<Arc<ForeignOwner>>,
    pub template_hash: String,
    pub ordinal: Option<u32>,
    pub node: String,
    /// Shared among the pods of one revision until one of them changes.
    pub labels: Arc<Labels>,
    pub annotations: Arc<Labels>,
    pub containers: Arc<Vec<String>>,
    pub init_containers: Arc<Vec<String>>,
    pub created: i64,
    pub start_time: Option<i64>,
    pub running: bool,
    pub terminating: bool,
    /// When a terminating pod is gone (its deletionTimestamp).
    pub gone_at: Option<i64>,
    pub ready: bool,
    pub ever_ready: bool,
    pub mesh: Mesh,
    pub never_ready: bool,
    /// The trust roots the proxy started with.
    pub roots: Option<RootsId>,
    pub roots_pem: Option<Arc<str>>,
    pub leaf: Option<Leaf>,
    /// When the proxy took its current leaf (its
    /// `identity_cert_refresh_timestamp_seconds`).
    pub leaf_set_at: i64,
    pub leaf_gen: u64,
    /// The leaf generation whose expiry is scheduled (0: none).
    pub expiry_watch: u64,
    pub leaf_expired: bool,
    /// The trust class this pod currently counts in (outage checker).
    pub contrib: Option<ClassId>,
    pub unit: Option<UnitId>,
    /// The identity controller running in this pod, if it is one.
    pub identity: Option<IdentityCtl>,
    /// Container crashes so far (the kubelet's back-off doubles with each).
    pub crashes: u32,
    /// The proxy is a native sidecar and its startup probe has not passed
    /// yet: the pod is still in Init (phase Pending, app not started).
    pub in_init: bool,
    /// The proxy sidecar is down, waiting out its restart back-off.
    pub sidecar_down: bool,
    /// Times the kubelet restarted the proxy sidecar (failed startup probes).
    pub sidecar_restarts: u32,
    /// Why the proxy's last request for a certificate failed, if it did.
    pub certify_error: Option<&'static str>,
}

/// Linkerd's identity controller: roots read once at container start, and
/// the issuer it signs with (`None`: crash-looping, the issuer did not verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityCtl {
    pub roots: RootsId,
    pub issuer: Option<CertId>,
}

impl Pod {
    /// A pod as admission creates it: not started, no proxy state yet.
    /// Callers fill in what they know with struct update syntax.
    pub fn new(namespace: String, name: String, node: String, mesh: Mesh) -> Pod {
        Pod {
            uid: 0,
            namespace,
            name,
            owner: None,
            foreign: None,
            template_hash: String::new(),
            ordinal: None,
            node,
            labels: Default::default(),
            annotations: Default::default(),
            containers: Default::default(),
            init_containers: Default::default(),
            created: 0,
            start_time: None,
            running: false,
            terminating: false,
            gone_at: None,
            ready: false,
            ever_ready: false,
            mesh,
            never_ready: false,
            roots: None,
            roots_pem: None,
            leaf: None,
            leaf_set_at: 0,
            leaf_gen: 0,
            expiry_watch: 0,
            leaf_expired: false,
            contrib: None,
            unit: None,
            identity: None,
            crashes: 0,
            in_init: false,
            sidecar_down: false,
            sidecar_restarts: 0,
            certify_error: None,
        }
    }

    pub fn active(&self) -> bool {
        !self.terminating
    }

    /// The pod's phase: Pending until its containers run, and while a
    /// native-sidecar proxy holds it in Init.
    pub fn phase(&self) -> &'static str {
        if self.running && !self.in_init {
            "Running"
        } else {
            "Pending"
        }
    }
}

#[derive(Debug, Clone)]
pub struct SecretRec {
    pub type_: String,
    pub data: BTreeMap<String, Vec<u8>>,
    pub labels: Labels,
    pub annotations: Labels,
    pub resource_version: u64,
}

#[derive(Debug, Clone)]
pub struct ConfigMapRec {
    pub data: BTreeMap<String, Arc<str>>,
    pub labels: Labels,
    pub annotations: Labels,
    pub resource_version: u64,
}

#[derive(Debug, Clone)]
pub struct CertificateRec {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub spec: CertificateSpec,
    pub generation: i64,
    pub revision: Option<u64>,
    pub conditions: Vec<Condition>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub renewal_time: Option<i64>,
    pub last_failure: Option<i64>,
    /// Bumped on every trigger; a scheduled issuance for an older token is stale.
    pub issue_token: u64,
    /// Issuances failed in a row (cert-manager's `status.failedIssuanceAttempts`).
    pub failed_attempts: u32,
}

#[derive(Debug, Clone)]
pub struct IssuerRec {
    /// `None` for a ClusterIssuer.
    pub namespace: Option<String>,
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub spec: IssuerSpec,
    /// `metadata.generation`: bumped by every change of the spec.
    pub generation: i64,
}

#[derive(Debug, Clone)]
pub struct BundleRec {
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub spec: BundleSpec,
    pub namespace_selector: Option<LabelSelector>,
    pub sync_pending: bool,
    /// A ClusterBundle, as loaded (`None`: a `Bundle`). The dump writes it
    /// back in its own shape.
    pub cluster_bundle: Option<ClusterBundleObject>,
    /// Whether the simulated trust-manager writes its target: a `Bundle`
    /// always; a ClusterBundle only when the cluster showed it reconciled
    /// ([`ClusterBundleObject::reconciled`]).
    pub reconciled: bool,
}

#[derive(Debug, Clone)]
pub struct EventRec {
    pub involved: ObjectRef,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
    pub count: u32,
    pub first: i64,
    pub last: i64,
    pub source: String,
    /// The process that reported it (0: not tracked). Each process has its
    /// own event recorder, so only its own repeats fold into one Event.
    pub emitter: u64,
}
