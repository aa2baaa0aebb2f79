//! The simulated cluster: an in-memory model of Kubernetes, cert-manager,
//! trust-manager and Linkerd's trust mechanics, in virtual time.
//!
//! [`SimCluster`] implements [`Cluster`]: `wait` and `wait_rollout` advance a
//! virtual clock through a discrete event queue (pod starts and stops,
//! issuance, bundle sync, identity reloads, leaf refreshes), and an outage
//! checker integrates every moment a meshed workload pair cannot complete
//! mTLS. `docs/trust-model.md` lists every behaviour modelled, with the
//! upstream source it follows, and what is left out and why.
//!
//! This module holds [`SimCluster`] and a thin [`Cluster`] impl; the
//! primitives live in `primitives` (one file per resource family, as in the
//! Kubernetes backend) and what the simulator offers beyond the trait
//! (report, state, clock) in `controls`.

mod certmanager;
mod controls;
mod dump;
mod fleet;
mod foreign;
pub mod generate;
mod identity_metrics;
pub mod keys;
mod kubelet;
mod linkerd;
mod load;
pub mod manifest;
pub mod multicluster;
mod outage;
mod outage_log;
mod owner_restart;
pub mod pki;
mod primitives;
pub mod report;
mod rollout;
pub mod scenario;
mod sidecar;
mod staged_layout;
mod steady;
mod trustmanager;
mod world;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::cluster::{Cluster, ClusterResult, IssuerRef};
use crate::wit::{
    Certificate, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, Namespace, ObjectRef, Pod,
    PodSummary, RolloutOutcome, RolloutStatus, Secret, SecretWrite, Timestamp, Workload,
    WorkloadKind, WorkloadRef,
};

pub use outage::OutageWindow;
pub use report::{FinalState, OutageReport, SimulationReport};
pub use scenario::ScenarioError;

use fleet::{Fleet, WorldGuard};
use world::World;

/// The embedded demo scenario (`host/scenarios/demo.yaml`).
pub const DEMO_SCENARIO: &str = include_str!("../../../scenarios/demo.yaml");

/// An in-memory cluster in virtual time. Wrap it in an `Arc` to use it as a
/// `dyn Cluster`.
#[derive(Debug)]
pub struct SimCluster {
    /// The worlds sharing this cluster's clock (just this one, unless the
    /// scenario has several clusters).
    fleet: Arc<Mutex<Fleet>>,
    /// This cluster's world in the fleet.
    index: usize,
}

impl SimCluster {
    /// Load a scenario: multi-document YAML of Kubernetes objects plus an
    /// optional `rotor.dev/v1alpha1` `Simulation` document.
    pub fn from_yaml(text: &str) -> Result<SimCluster, ScenarioError> {
        Ok(SimCluster {
            fleet: Arc::new(Mutex::new(Fleet::single(World::load(text)?))),
            index: 0,
        })
    }

    /// The embedded demo mesh.
    pub fn demo() -> SimCluster {
        // The demo is embedded at build time and loaded by the tests; it cannot fail here.
        SimCluster::from_yaml(DEMO_SCENARIO).expect("the embedded demo scenario loads")
    }

    /// Convenience for callers that want a `dyn Cluster`.
    pub fn into_arc(self) -> Arc<SimCluster> {
        Arc::new(self)
    }

    /// One cluster of a multicluster simulation.
    fn member(fleet: Arc<Mutex<Fleet>>, index: usize) -> SimCluster {
        SimCluster { fleet, index }
    }

    fn lock(&self) -> WorldGuard<'_> {
        WorldGuard {
            // A panic while holding the lock leaves a usable model; keep going.
            fleet: self.fleet.lock().unwrap_or_else(|e| e.into_inner()),
            index: self.index,
        }
    }
}

#[async_trait]
impl Cluster for SimCluster {
    fn backend(&self) -> crate::cluster::Backend {
        crate::cluster::Backend::Simulated
    }

    fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> ClusterResult<bool> {
        self.signed_by(cert_pem, issuer_pem)
    }

    async fn list_namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>> {
        self.namespaces(selector)
    }

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        self.workloads(namespace, kind, selector)
    }

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        self.workload(kind, namespace, name)
    }

    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        self.restart(kind, namespace, name)
    }

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        self.rollout(kind, namespace, name)
    }

    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        self.await_rollout(kind, namespace, name, timeout_seconds)
    }

    async fn wait_rollouts(
        &self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
        _cluster_wide: bool,
    ) -> ClusterResult<Vec<RolloutOutcome>> {
        self.await_rollouts(targets, timeout_seconds)
    }

    async fn restart_owner(&self, owner: &ObjectRef) -> ClusterResult<Timestamp> {
        let mut w = self.lock();
        let at = w.restart_owner(owner)?;
        w.settle();
        Ok(at)
    }

    async fn list_pods(&self, namespace: Option<&str>, selector: &str) -> ClusterResult<Vec<Pod>> {
        self.pods(namespace, selector)
    }

    async fn list_pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        self.pod_summaries(namespace, selector, annotations)
    }

    async fn terminating_pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        self.pods_being_deleted(namespace, selector)
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.remove_pod(namespace, name)
    }

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        // PodDisruptionBudgets are not modelled: an eviction always proceeds.
        self.remove_pod(namespace, name)
    }

    async fn get_pod_metrics(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> ClusterResult<String> {
        self.lock().pod_metrics(namespace, name, port)
    }

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate> {
        self.certificate(namespace, name)
    }

    async fn list_certificates(&self, namespace: Option<&str>) -> ClusterResult<Vec<Certificate>> {
        self.certificates(namespace)
    }

    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.renew(namespace, name)
    }

    async fn get_issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer> {
        self.issuer(issuer)
    }

    async fn set_ca_issuer_secret(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()> {
        self.point_ca_issuer(issuer, secret_name)
    }

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        self.secret(namespace, name)
    }

    async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
        self.put_secret(secret)
    }

    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        self.remove_secret(namespace, name, resource_version)
    }

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        self.config_map(namespace, name)
    }

    async fn trust_manager_setup(
        &self,
    ) -> ClusterResult<Option<crate::cluster::trust_manager::TrustManagerSetup>> {
        Ok(Some(self.lock().trust_manager_setup()))
    }

    async fn write_config_map(&self, config_map: ConfigMapWrite) -> ClusterResult<String> {
        self.put_config_map_write(config_map)
    }

    async fn list_events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        self.events(involved, reason)
    }

    async fn record_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        self.publish_event(involved, type_, reason, message)
    }

    async fn load_progress(&self) -> ClusterResult<Option<String>> {
        self.read_progress()
    }

    async fn save_progress(&self, record: &str) -> ClusterResult<()> {
        self.write_progress(record)
    }

    async fn clear_progress(&self) -> ClusterResult<()> {
        self.delete_progress()
    }

    async fn now(&self) -> Timestamp {
        self.lock().now
    }

    async fn wait(&self, seconds: u32) -> ClusterResult<()> {
        let mut w = self.lock();
        let target = w.now + i64::from(seconds);
        w.fleet.advance_to(target);
        Ok(())
    }
}
