//! The simulator's state and its virtual clock.
//!
//! Everything lives in one [`World`] behind the `SimCluster` mutex. Objects
//! are typed records with indexes by namespace and owner; controllers
//! (rollouts, cert-manager, trust-manager, Linkerd) react to timed events
//! from one discrete event queue, so time only moves when a caller waits.
//!
//! This file holds the world itself; its records, clock, pod table,
//! workload index, object writes and name/time formats each have a file.

mod clock;
mod format;
mod objects;
mod pods;
mod records;
mod workloads;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use super::manifest::SimulationSpec;
use super::outage::{Outage, RootsId};
use super::pki::{CertId, Pki};

pub use clock::Ev;
pub use format::{kind_order, parse_rfc3339, rfc3339, short_hash};
pub use records::{
    BundleId, BundleRec, CertRecId, CertificateRec, ConfigMapRec, EventRec, IdentityCtl, IssuerRec,
    Leaf, Mesh, Namespace, Pod, PodId, PodParts, SecretRec, WlId, Workload,
};

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
    /// Owners asked to restart through `restart-owner`, and their progress
    /// (`Ev::OwnerRestart` carries an index into it).
    pub owner_restarts: Vec<super::owner_restart::OwnerRestart>,
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
            owner_restarts: Vec::new(),
        }
    }
}
