//! The simulator's state and its virtual clock.
//!
//! Everything lives in one [`World`] behind the `SimCluster` mutex. Objects
//! are typed records with indexes by namespace and owner; controllers
//! (rollouts, cert-manager, trust-manager, Linkerd) react to timed events
//! from one discrete event queue, so time only moves when a caller waits.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

use crate::wit::{Condition, EventType, ObjectRef, WorkloadKind};

use super::manifest::{
    BundleSpec, CertificateSpec, IssuerSpec, LabelSelector, Labels, SimulationSpec, WorkloadSpec,
};
use super::outage::{Outage, RootsId, UnitId};
use super::pki::{CertId, Pki};

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
    pub leaf_gen: u64,
    /// The leaf generation whose expiry is scheduled (0: none).
    pub expiry_watch: u64,
    pub leaf_expired: bool,
    /// The trust class this pod currently counts in (outage checker).
    pub contrib: Option<super::outage::ClassId>,
    pub unit: Option<UnitId>,
    /// The identity controller running in this pod, if it is one.
    pub identity: Option<IdentityCtl>,
    /// Container crashes so far (the kubelet's back-off doubles with each).
    pub crashes: u32,
}

/// Linkerd's identity controller: roots read once at container start, and
/// the issuer it signs with (`None`: crash-looping, the issuer did not verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityCtl {
    pub roots: RootsId,
    pub issuer: Option<CertId>,
}

impl Pod {
    pub fn active(&self) -> bool {
        !self.terminating
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
}

#[derive(Debug, Clone)]
pub struct BundleRec {
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub spec: BundleSpec,
    pub namespace_selector: Option<LabelSelector>,
    pub sync_pending: bool,
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

/// Something that happens at a point in virtual time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ev {
    Reconcile(WlId),
    PodStarted { pod: PodId, uid: u64 },
    PodGone { pod: PodId, uid: u64 },
    IssuanceDone { cert: CertRecId, token: u64 },
    RenewalDue { cert: CertRecId, token: u64 },
    BundleSync(BundleId),
    IdentityReload { pod: PodId, uid: u64 },
    IdentityRetry { pod: PodId, uid: u64 },
    LeafRefresh { pod: PodId, uid: u64, leaf_gen: u64 },
    LeafExpiry { pod: PodId, uid: u64, leaf_gen: u64 },
    ProgressDeadline { wl: WlId, since: i64 },
}

#[derive(Debug)]
pub struct World {
    pub now: i64,
    /// The clock when the scenario was loaded (virtual_seconds counts from here).
    pub loaded_at: i64,
    /// Seconds advanced by [`super::SimCluster::watch_after_run`].
    pub after_run_seconds: i64,
    pub spec: SimulationSpec,
    pub namespaces: BTreeMap<String, Namespace>,
    pub workloads: Vec<Workload>,
    /// namespace -> [Deployments, StatefulSets, DaemonSets] by name.
    pub workload_index: BTreeMap<String, [BTreeMap<String, WlId>; 3]>,
    pub pods: Vec<Option<Pod>>,
    /// namespace -> name -> pod (nested so lookups need no allocation).
    pub pod_index: BTreeMap<String, BTreeMap<String, PodId>>,
    /// Slots of gone pods, reused so the pod table stays as large as the cluster.
    pub free_pods: Vec<PodId>,
    pub secrets: BTreeMap<(String, String), SecretRec>,
    pub config_maps: BTreeMap<(String, String), ConfigMapRec>,
    pub certificates: Vec<CertificateRec>,
    pub certificate_index: BTreeMap<(String, String), CertRecId>,
    /// ("" for ClusterIssuers, name).
    pub issuers: BTreeMap<(String, String), IssuerRec>,
    pub bundles: Vec<BundleRec>,
    pub events: Vec<EventRec>,
    pub queue: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    pub seq: u64,
    pub resource_version: u64,
    pub next_uid: u64,
    pub pki: Pki,
    pub outage: Outage,
    /// The trust-roots ConfigMap's content over time (what the injector's
    /// kubelet-synced copy lags behind).
    pub roots_history: Vec<(i64, Arc<str>)>,
    /// Pods that started and were gone or still not Ready without ever being Ready.
    pub never_ready_log: Vec<String>,
    /// Anchor and issuer certificates at load, to tell whether they rotated.
    pub initial_anchor: Option<CertId>,
    pub initial_issuer: Option<CertId>,
    pub node_names: Vec<String>,
    /// Trust-roots PEM texts already turned into roots sets.
    pub roots_by_pem: std::collections::HashMap<Arc<str>, RootsId>,
    /// The last trust-roots text admitted, with its roots set and SHA-256.
    pub last_roots: Option<(Arc<str>, RootsId, String)>,
    /// `linkerd.io/trust-root-sha256` of the control plane's pod templates:
    /// the chart hashes its `identityTrustAnchorsPEM` value once, at install,
    /// so the trust roots at load stand for it when a template has none.
    pub install_roots_sha: Option<String>,
    /// The identity and injector Deployments, once workloads are loaded.
    pub control_plane_ids: Option<(Option<WlId>, Option<WlId>)>,
}

/// Workload kinds in listing order.
pub fn kind_order(kind: WorkloadKind) -> u8 {
    match kind {
        WorkloadKind::Deployment => 0,
        WorkloadKind::StatefulSet => 1,
        WorkloadKind::DaemonSet => 2,
    }
}

/// The alphabet Kubernetes uses for generated name suffixes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A deterministic name suffix (FNV-1a of the input).
pub fn short_hash(input: &str, len: usize) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in input.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(SAFE_ALPHABET[(h % SAFE_ALPHABET.len() as u64) as usize] as char);
        h /= SAFE_ALPHABET.len() as u64;
        if h == 0 {
            h = 0x9e3779b97f4a7c15;
        }
    }
    out
}

pub fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

impl World {
    pub fn new(spec: SimulationSpec, now: i64) -> World {
        let node_names = (1..=spec.nodes.max(1))
            .map(|i| format!("node-{i}"))
            .collect();
        World {
            now,
            loaded_at: now,
            after_run_seconds: 0,
            spec,
            namespaces: BTreeMap::new(),
            workloads: Vec::new(),
            workload_index: BTreeMap::new(),
            pods: Vec::new(),
            pod_index: BTreeMap::new(),
            free_pods: Vec::new(),
            secrets: BTreeMap::new(),
            config_maps: BTreeMap::new(),
            certificates: Vec::new(),
            certificate_index: BTreeMap::new(),
            issuers: BTreeMap::new(),
            bundles: Vec::new(),
            events: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            resource_version: 1000,
            next_uid: 1,
            pki: Pki::default(),
            outage: Outage::default(),
            roots_history: Vec::new(),
            never_ready_log: Vec::new(),
            initial_anchor: None,
            initial_issuer: None,
            node_names,
            roots_by_pem: Default::default(),
            last_roots: None,
            install_roots_sha: None,
            control_plane_ids: None,
        }
    }

    pub fn schedule(&mut self, at: i64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at.max(self.now), self.seq, ev)));
    }

    pub fn next_rv(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    pub fn next_event_time(&self) -> Option<i64> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Run every event up to `target` in time order, then set the clock there.
    pub fn advance_to(&mut self, target: i64) {
        while let Some(t) = self.next_event_time() {
            if t > target {
                break;
            }
            let Some(Reverse((t, _, ev))) = self.queue.pop() else {
                break;
            };
            if t > self.now {
                self.outage.elapse(self.now, t);
                self.now = t;
            }
            self.handle(ev);
            if self.next_event_time() != Some(self.now) {
                self.evaluate_outage();
            }
        }
        if target > self.now {
            self.outage.elapse(self.now, target);
            self.now = target;
        }
        self.evaluate_outage();
    }

    /// Run what is due now (after a mutation) without moving the clock.
    pub fn settle(&mut self) {
        self.advance_to(self.now);
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Reconcile(wl) => {
                self.workloads[wl].reconcile_pending = false;
                self.reconcile(wl);
            }
            Ev::PodStarted { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.pod_started(pod);
                }
            }
            Ev::PodGone { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.remove_pod(pod);
                }
            }
            Ev::IssuanceDone { cert, token } => {
                if self.certificates[cert].issue_token == token {
                    self.complete_issuance(cert);
                }
            }
            Ev::RenewalDue { cert, token } => {
                if self.certificates[cert].issue_token == token {
                    self.begin_issuance(
                        cert,
                        "Renewing",
                        "Renewing certificate as renewal was scheduled",
                    );
                }
            }
            Ev::BundleSync(b) => self.sync_bundle(b),
            Ev::IdentityReload { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.identity_reload(pod);
                }
            }
            Ev::IdentityRetry { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.identity_restart_container(pod);
                }
            }
            Ev::LeafRefresh { pod, uid, leaf_gen } => {
                if self.pod_uid_is(pod, uid) && self.pod(pod).leaf_gen == leaf_gen {
                    self.request_leaf(pod);
                }
            }
            Ev::LeafExpiry { pod, uid, leaf_gen } => {
                if self.pod_uid_is(pod, uid) && self.pod(pod).leaf_gen == leaf_gen {
                    self.pod_mut(pod).leaf_expired = true;
                    self.update_contrib(pod);
                }
            }
            Ev::ProgressDeadline { wl, since } => {
                if self.workloads[wl].last_progress == since {
                    self.check_progress_deadline(wl);
                }
            }
        }
    }

    fn pod_uid_is(&self, pod: PodId, uid: u64) -> bool {
        self.pods
            .get(pod)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.uid == uid)
    }

    pub fn pod(&self, id: PodId) -> &Pod {
        self.pods[id]
            .as_ref()
            .expect("pod ids in indexes refer to live pods")
    }

    pub fn pod_mut(&mut self, id: PodId) -> &mut Pod {
        self.pods[id]
            .as_mut()
            .expect("pod ids in indexes refer to live pods")
    }

    pub fn request_reconcile(&mut self, wl: WlId) {
        if !self.workloads[wl].reconcile_pending {
            self.workloads[wl].reconcile_pending = true;
            self.schedule(self.now, Ev::Reconcile(wl));
        }
    }

    pub fn find_workload(&self, kind: WorkloadKind, ns: &str, name: &str) -> Option<WlId> {
        self.workload_index.get(ns)?[kind_order(kind) as usize]
            .get(name)
            .copied()
    }

    pub fn add_workload_index(&mut self, kind: WorkloadKind, ns: &str, name: &str, id: WlId) {
        if !self.workload_index.contains_key(ns) {
            self.workload_index
                .insert(ns.to_string(), Default::default());
        }
        if let Some(kinds) = self.workload_index.get_mut(ns) {
            kinds[kind_order(kind) as usize].insert(name.to_string(), id);
        }
    }

    pub fn pod_id(&self, ns: &str, name: &str) -> Option<PodId> {
        self.pod_index.get(ns)?.get(name).copied()
    }

    /// Workloads in listing order (namespace, kind, name), optionally one namespace.
    pub fn workload_ids(&self, ns: Option<&str>) -> Vec<WlId> {
        let per_ns = |kinds: &[BTreeMap<String, WlId>; 3]| {
            kinds
                .iter()
                .flat_map(|m| m.values().copied())
                .collect::<Vec<_>>()
        };
        match ns {
            Some(ns) => self.workload_index.get(ns).map(per_ns).unwrap_or_default(),
            None => self.workload_index.values().flat_map(per_ns).collect(),
        }
    }

    /// Pods in listing order (namespace, name), optionally one namespace.
    pub fn pod_ids(&self, ns: Option<&str>) -> Vec<PodId> {
        match ns {
            Some(ns) => self
                .pod_index
                .get(ns)
                .map(|m| m.values().copied().collect())
                .unwrap_or_default(),
            None => self
                .pod_index
                .values()
                .flat_map(|m| m.values().copied())
                .collect(),
        }
    }

    /// Add a pod to the table and its indexes (its start is scheduled by the caller).
    pub fn insert_pod(&mut self, mut pod: Pod) -> PodId {
        let id = self.free_pods.pop().unwrap_or(self.pods.len());
        pod.uid = self.next_uid;
        self.next_uid += 1;
        if !self.pod_index.contains_key(&pod.namespace) {
            self.pod_index
                .insert(pod.namespace.clone(), BTreeMap::new());
        }
        if let Some(names) = self.pod_index.get_mut(&pod.namespace) {
            names.insert(pod.name.clone(), id);
        }
        if let Some(wl) = pod.owner {
            self.workloads[wl].pods.insert(id);
        }
        if id == self.pods.len() {
            self.pods.push(Some(pod));
        } else {
            self.pods[id] = Some(pod);
        }
        id
    }

    /// Create a pod for a workload from its current template, at admission.
    pub fn create_workload_pod(
        &mut self,
        wl: WlId,
        name: String,
        node: String,
        ordinal: Option<u32>,
        hash: String,
    ) -> PodId {
        let parts = self.pod_parts(wl, &hash);
        let w = &self.workloads[wl];
        let mut labels = parts.labels;
        if w.kind == WorkloadKind::StatefulSet {
            Arc::make_mut(&mut labels)
                .insert("statefulset.kubernetes.io/pod-name".into(), name.clone());
        }
        let (annotations, containers, init_containers) =
            (parts.annotations, parts.containers, parts.init_containers);
        let pod = Pod {
            uid: 0,
            namespace: w.namespace.clone(),
            name,
            owner: Some(wl),
            template_hash: hash,
            ordinal,
            node,
            labels,
            annotations,
            containers,
            init_containers,
            created: self.now,
            start_time: None,
            running: false,
            terminating: false,
            gone_at: None,
            ready: false,
            ever_ready: false,
            mesh: w.mesh,
            never_ready: w.never_ready,
            roots: None,
            roots_pem: None,
            leaf: None,
            leaf_gen: 0,
            expiry_watch: 0,
            leaf_expired: false,
            contrib: None,
            unit: Some(w.unit),
            identity: None,
            crashes: 0,
        };
        let id = self.insert_pod(pod);
        self.admit(id);
        let uid = self.pod(id).uid;
        let start = self.now + self.spec.timings.pod_start_seconds;
        self.schedule(start, Ev::PodStarted { pod: id, uid });
        id
    }

    /// The shared parts of a revision's pods, built on first use.
    fn pod_parts(&mut self, wl: WlId, hash: &str) -> PodParts {
        if let Some(parts) = &self.workloads[wl].pod_parts
            && parts.hash == hash
        {
            return parts.clone();
        }
        let w = &self.workloads[wl];
        let mut labels = w.spec.template.metadata.labels.clone();
        let mut annotations = w.spec.template.metadata.annotations.clone();
        match w.kind {
            WorkloadKind::Deployment => {
                labels.insert("pod-template-hash".into(), hash.to_string());
            }
            WorkloadKind::StatefulSet => {
                labels.insert(
                    "controller-revision-hash".into(),
                    format!("{}-{}", w.name, hash),
                );
            }
            WorkloadKind::DaemonSet => {
                labels.insert("controller-revision-hash".into(), hash.to_string());
                labels.insert("pod-template-generation".into(), w.generation.to_string());
            }
        }
        let names = |cs: &[super::manifest::Container]| {
            cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
        };
        let mut containers = names(&w.spec.template.spec.containers);
        let mut init_containers = names(&w.spec.template.spec.init_containers);
        if w.mesh == Mesh::ControlPlane
            && let Some(sha) = &self.install_roots_sha
        {
            annotations
                .entry(super::linkerd::TRUST_ROOT_SHA_ANNOTATION.to_string())
                .or_insert_with(|| sha.clone());
        }
        if w.mesh != Mesh::Off {
            super::linkerd::inject_fields(
                &w.namespace,
                Some((w.kind, &w.name)),
                &mut labels,
                &mut annotations,
                &mut containers,
                &mut init_containers,
            );
        }
        let parts = PodParts {
            hash: hash.to_string(),
            labels: Arc::new(labels),
            annotations: Arc::new(annotations),
            containers: Arc::new(containers),
            init_containers: Arc::new(init_containers),
            with_roots: None,
        };
        self.workloads[wl].pod_parts = Some(parts.clone());
        parts
    }

    fn pod_started(&mut self, id: PodId) {
        {
            let now = self.now;
            let p = self.pod_mut(id);
            if p.terminating || p.running {
                return;
            }
            p.running = true;
            p.start_time = Some(now);
        }
        match self.pod(id).mesh {
            Mesh::Off => {
                let never = self.pod(id).never_ready;
                self.set_ready(id, !never);
            }
            Mesh::Injected | Mesh::ControlPlane => self.proxy_started(id),
        }
    }

    /// Readiness change: owners roll on, the checker re-counts.
    pub fn set_ready(&mut self, id: PodId, ready: bool) {
        let p = self.pod_mut(id);
        let changed = p.ready != ready;
        p.ready = ready;
        if ready {
            p.ever_ready = true;
        }
        let owner = p.owner;
        if changed {
            self.update_contrib(id);
            if let Some(wl) = owner {
                if ready {
                    self.workloads[wl].last_progress = self.now;
                    self.schedule_progress_deadline(wl);
                }
                self.request_reconcile(wl);
            }
        }
    }

    /// Begin deleting a pod: it stops serving now and is gone after podStopSeconds.
    pub fn terminate_pod(&mut self, id: PodId) {
        let stop = self.now + self.spec.timings.pod_stop_seconds;
        let p = self.pod_mut(id);
        if p.terminating {
            return;
        }
        p.terminating = true;
        p.gone_at = Some(stop);
        let uid = p.uid;
        let owner = p.owner;
        self.set_ready(id, false);
        self.update_contrib(id);
        self.schedule(stop, Ev::PodGone { pod: id, uid });
        if let Some(wl) = owner {
            self.request_reconcile(wl);
        }
    }

    fn remove_pod(&mut self, id: PodId) {
        let Some(p) = self.pods[id].take() else {
            return;
        };
        if p.running && !p.ever_ready {
            self.never_ready_log
                .push(format!("{}/{}", p.namespace, p.name));
        }
        if let Some(names) = self.pod_index.get_mut(&p.namespace) {
            names.remove(&p.name);
            if names.is_empty() {
                self.pod_index.remove(&p.namespace);
            }
        }
        self.free_pods.push(id);
        if let (Some(unit), Some(class)) = (p.unit, p.contrib) {
            self.outage.set_pod_class(unit, Some(class), None);
        }
        if let Some(wl) = p.owner {
            self.workloads[wl].pods.remove(&id);
            self.request_reconcile(wl);
        }
    }

    /// Recompute which trust class a pod counts in.
    pub fn update_contrib(&mut self, id: PodId) {
        let p = self.pod(id);
        let Some(unit) = p.unit else { return };
        let class = match (p.ready && !p.terminating, p.roots, p.leaf) {
            (true, Some(roots), Some(leaf)) if p.mesh != Mesh::Off => {
                Some((roots, leaf.anchor, p.leaf_expired))
            }
            _ => None,
        };
        let old = p.contrib;
        let new = class.map(|(r, a, e)| self.outage.class_id(r, a, e));
        if old != new {
            self.pod_mut(id).contrib = new;
            self.outage.set_pod_class(unit, old, new);
        }
    }

    pub fn evaluate_outage(&mut self) {
        if self.outage.is_dirty() {
            let now = self.now;
            self.outage.evaluate(now);
        }
    }

    pub fn record_event(
        &mut self,
        involved: ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
        source: &str,
    ) {
        self.record_event_from(0, involved, type_, reason, message, source);
    }

    /// As [`record_event`](Self::record_event), reported by one process
    /// among several that report alike (identity's replicas).
    pub fn record_event_from(
        &mut self,
        emitter: u64,
        involved: ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
        source: &str,
    ) {
        let now = self.now;
        if let Some(e) = self.events.iter_mut().rev().find(|e| {
            e.involved == involved
                && e.reason == reason
                && e.message == message
                && e.source == source
                && e.emitter == emitter
        }) {
            e.count += 1;
            e.last = now;
            return;
        }
        self.events.push(EventRec {
            involved,
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
            count: 1,
            first: now,
            last: now,
            source: source.to_string(),
            emitter,
        });
    }

    /// Store a ConfigMap key; returns whether the content changed.
    pub fn put_config_map(&mut self, ns: &str, name: &str, key: &str, value: Arc<str>) -> bool {
        let rv = self.resource_version + 1;
        let entry = self
            .config_maps
            .entry((ns.to_string(), name.to_string()))
            .or_insert_with(|| ConfigMapRec {
                data: BTreeMap::new(),
                labels: Labels::new(),
                annotations: Labels::new(),
                resource_version: rv,
            });
        if entry.data.get(key).is_some_and(|v| **v == *value) {
            return false;
        }
        entry.data.insert(key.to_string(), value);
        entry.resource_version = rv;
        self.resource_version = rv;
        true
    }

    /// Is every pod of the namespace/kind/name a Ready one? Used by reports.
    pub fn workload_ready_count(&self, wl: WlId) -> u32 {
        self.workloads[wl]
            .pods
            .iter()
            .filter(|&&p| {
                let p = self.pod(p);
                p.active() && p.ready
            })
            .count() as u32
    }
}
