//! The simulated cluster: an in-memory model of Kubernetes, cert-manager,
//! trust-manager and Linkerd's trust mechanics, in virtual time.
//!
//! [`SimCluster`] implements [`Cluster`]: `wait` and `wait_rollout` advance a
//! virtual clock through a discrete event queue (pod starts and stops,
//! issuance, bundle sync, identity reloads, leaf refreshes), and an outage
//! checker integrates every moment a meshed workload pair cannot complete
//! mTLS. `docs/trust-model.md` lists every behaviour modelled, with the
//! upstream source it follows, and what is left out and why.

mod certmanager;
mod dump;
pub mod generate;
mod kubelet;
mod linkerd;
mod load;
pub mod manifest;
mod outage;
pub mod pki;
pub mod report;
mod rollout;
pub mod scenario;
mod steady;
mod trustmanager;
mod world;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::cluster::selector::Selector;
use crate::cluster::{Cluster, ClusterError, ClusterResult};
use crate::wit::{
    Certificate, ConfigMap, Event, EventType, KeyValue, Namespace, ObjectRef, Pod, PodSummary,
    RolloutPhase, RolloutStatus, Secret, SecretWrite, Timestamp, Workload, WorkloadKind,
};

pub use outage::OutageWindow;
pub use report::{FinalState, OutageReport, SimulationReport};
pub use scenario::ScenarioError;

use world::{Mesh, SecretRec, World, kind_order};

/// The embedded demo scenario (`host/scenarios/demo.yaml`).
pub const DEMO_SCENARIO: &str = include_str!("../../../scenarios/demo.yaml");

/// Where the progress record lives, so it survives `state_yaml`.
const PROGRESS_NAMESPACE: &str = "rotor-system";
const PROGRESS_CONFIG_MAP: &str = "rotor-progress";
const PROGRESS_KEY: &str = "progress";

/// An in-memory cluster in virtual time. Wrap it in an `Arc` to use it as a
/// `dyn Cluster`.
#[derive(Debug)]
pub struct SimCluster {
    world: Mutex<World>,
}

impl SimCluster {
    /// Load a scenario: multi-document YAML of Kubernetes objects plus an
    /// optional `rotor.dev/v1alpha1` `Simulation` document.
    pub fn from_yaml(text: &str) -> Result<SimCluster, ScenarioError> {
        Ok(SimCluster {
            world: Mutex::new(World::load(text)?),
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

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves a usable model; keep going.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pods of `namespace` (all: `None`) matching `selector`, as `view` shows them.
    fn map_pods<T>(
        &self,
        namespace: Option<&str>,
        selector: &str,
        view: impl Fn(&World, &world::Pod) -> T,
    ) -> ClusterResult<Vec<T>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        Ok(w.pod_ids(namespace)
            .into_iter()
            .map(|id| w.pod(id))
            .filter(|p| sel.matches(&p.labels))
            .map(|p| view(&w, p))
            .collect())
    }

    /// Outage, never-ready pods and the final trust state so far.
    pub fn simulation_report(&self) -> SimulationReport {
        self.lock().report()
    }

    /// The whole cluster state as a scenario that loads again and continues.
    pub fn state_yaml(&self) -> String {
        self.lock().state_yaml()
    }

    /// Keep the virtual clock running after the policy returned, for the
    /// scenario's `afterRunSeconds`: what the run set in motion (a bundle
    /// sync, a kubelet update, an expiring leaf) lands in the report too.
    pub fn watch_after_run(&self) {
        let mut w = self.lock();
        let seconds = w.spec.after_run();
        let target = w.now + seconds.max(0);
        w.advance_to(target);
        w.after_run_seconds += seconds.max(0);
    }

    /// The scenario's `spec.faults`, if it injects API errors.
    pub fn fault_spec(&self) -> Option<crate::cluster::faults::FaultSpec> {
        self.lock().spec.faults.clone()
    }

    /// Advance the virtual clock (tests and tools that drive time directly).
    pub fn advance(&self, seconds: i64) {
        let mut w = self.lock();
        let target = w.now + seconds.max(0);
        w.advance_to(target);
    }
}

fn kv(map: &std::collections::BTreeMap<String, String>) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect()
}

fn not_found_workload(kind: WorkloadKind, ns: &str, name: &str) -> ClusterError {
    ClusterError::NotFound(format!("{} {ns}/{name}", kind.as_kind()))
}

impl World {
    fn workload_id(&self, kind: WorkloadKind, ns: &str, name: &str) -> ClusterResult<usize> {
        self.find_workload(kind, ns, name)
            .ok_or_else(|| not_found_workload(kind, ns, name))
    }

    fn pod_view(&self, p: &world::Pod) -> Pod {
        Pod {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            labels: kv(&p.labels),
            annotations: kv(&p.annotations),
            containers: (*p.containers).clone(),
            init_containers: (*p.init_containers).clone(),
            ready: p.ready && !p.terminating,
            phase: if p.running { "Running" } else { "Pending" }.into(),
            node_name: p.node.clone(),
            start_time: p.start_time,
            owner: self.owner_ref(p),
        }
    }

    /// [`PodSummary::of`] of [`World::pod_view`], without building the labels.
    fn pod_summary(&self, p: &world::Pod, annotations: &[String]) -> PodSummary {
        let containers = p
            .containers
            .iter()
            .chain(p.init_containers.iter())
            .cloned()
            .collect();
        PodSummary {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            annotations: annotations
                .iter()
                .filter_map(|k| {
                    p.annotations
                        .get(k)
                        .map(|v| KeyValue::new(k.clone(), v.clone()))
                })
                .collect(),
            containers,
            ready: p.ready && !p.terminating,
            phase: if p.running { "Running" } else { "Pending" }.into(),
            node_name: p.node.clone(),
            start_time: p.start_time,
            owner: self.owner_ref(p),
        }
    }

    fn owner_ref(&self, p: &world::Pod) -> Option<ObjectRef> {
        p.owner.map(|wl| {
            let w = &self.workloads[wl];
            ObjectRef {
                kind: w.kind.as_kind().into(),
                namespace: w.namespace.clone(),
                name: w.name.clone(),
            }
        })
    }

    fn certificate_id(&self, ns: &str, name: &str) -> ClusterResult<usize> {
        self.certificate_index
            .get(&(ns.to_string(), name.to_string()))
            .copied()
            .ok_or_else(|| ClusterError::NotFound(format!("Certificate {ns}/{name}")))
    }

    /// Until complete or failed, or the deadline; time moves event by event.
    fn wait_rollout(&mut self, wl: usize, timeout: u32) -> ClusterResult<RolloutStatus> {
        let deadline = self.now + i64::from(timeout);
        // The status is a function of these; recompute it only when they change.
        let mut last: Option<(rollout::StatusInputs, RolloutStatus)> = None;
        loop {
            self.settle();
            let inputs = self.status_inputs(wl);
            let status = match last.take() {
                Some((prev, status)) if prev == inputs => status,
                _ => self.rollout_status(wl)?,
            };
            if status.phase != RolloutPhase::Progressing || self.now >= deadline {
                return Ok(status);
            }
            last = Some((inputs, status));
            let next = self
                .next_event_time()
                .map_or(deadline, |t| t.min(deadline))
                .max(self.now + 1);
            self.advance_to(next);
        }
    }

    fn report(&self) -> SimulationReport {
        let mut never_ready = self.never_ready_log.clone();
        let current_anchor = self.current_anchor();
        let current_issuer = self.current_issuer();
        let mut trusting_retired = 0;
        let mut retired_leaf = 0;
        for p in self.pods.iter().flatten() {
            if p.terminating {
                continue;
            }
            if p.running && !p.ever_ready {
                never_ready.push(format!("{}/{}", p.namespace, p.name));
            }
            if p.mesh == Mesh::Off || !p.running {
                continue;
            }
            if let Some(r) = p.roots
                && self
                    .outage
                    .roots(r)
                    .iter()
                    .any(|&a| Some(a) != current_anchor)
            {
                trusting_retired += 1;
            }
            if let Some(l) = p.leaf
                && Some(l.anchor) != current_anchor
            {
                retired_leaf += 1;
            }
        }
        never_ready.sort();
        let workloads_not_ready = (0..self.workloads.len())
            .filter(|&wl| self.workload_ready_count(wl) < self.desired_replicas(wl))
            .map(|wl| self.workloads[wl].reference())
            .collect();
        let bundle_anchors = pki::pem_blocks(&self.current_roots_pem())
            .map(|b| b.len())
            .unwrap_or(0);
        SimulationReport {
            virtual_seconds: self.now - self.loaded_at,
            after_run_seconds: self.after_run_seconds,
            outage: OutageReport {
                broken_pair_seconds: self.outage.broken_pair_seconds,
                windows: self.outage.windows(self.now),
            },
            pods_never_ready: never_ready,
            final_state: FinalState {
                bundle_anchors,
                proxies_trusting_retired_anchor: trusting_retired,
                proxies_with_retired_chain_leaf: retired_leaf,
                anchor_rotated: current_anchor.is_some() && current_anchor != self.initial_anchor,
                issuer_rotated: current_issuer.is_some() && current_issuer != self.initial_issuer,
                workloads_not_ready,
                private_key_copies: self.private_key_copies(),
            },
        }
    }
}

#[async_trait]
impl Cluster for SimCluster {
    fn backend(&self) -> crate::cluster::Backend {
        crate::cluster::Backend::Simulated
    }

    fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> ClusterResult<bool> {
        if crate::x509::verify_signed_by(cert_pem, issuer_pem)? {
            return Ok(true);
        }
        let w = self.lock();
        let known = |pem: &str| {
            let der = pki::pem_blocks(pem).ok()?.into_iter().next()?;
            w.pki.by_fingerprint(&pki::sha256_hex(&der))
        };
        Ok(match (known(cert_pem), known(issuer_pem)) {
            (Some(cert), Some(issuer)) => w.pki.vouched_for(cert, issuer),
            _ => false,
        })
    }

    async fn list_namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        Ok(w.namespaces
            .values()
            .filter(|n| sel.matches(&n.labels))
            .map(|n| Namespace {
                name: n.name.clone(),
                labels: kv(&n.labels),
                annotations: kv(&n.annotations),
            })
            .collect())
    }

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        let ids = w.workload_ids(namespace);
        Ok(ids
            .into_iter()
            .filter(|&id| {
                let wl = &w.workloads[id];
                kind.is_none_or(|k| kind_order(k) == kind_order(wl.kind)) && sel.matches(&wl.labels)
            })
            .map(|id| w.workload_view(id))
            .collect())
    }

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        let w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        Ok(w.workload_view(id))
    }

    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        let mut w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.restart(id)
    }

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        let w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.rollout_status(id)
    }

    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        let mut w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.wait_rollout(id, timeout_seconds)
    }

    async fn list_pods(&self, namespace: Option<&str>, selector: &str) -> ClusterResult<Vec<Pod>> {
        self.map_pods(namespace, selector, |w, p| w.pod_view(p))
    }

    async fn list_pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        self.map_pods(namespace, selector, |w, p| w.pod_summary(p, annotations))
    }

    async fn terminating_pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        let named = self.map_pods(namespace, selector, |_, p| {
            p.terminating.then(|| format!("{}/{}", p.namespace, p.name))
        })?;
        Ok(named.into_iter().flatten().collect())
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut w = self.lock();
        let id = w
            .pod_id(namespace, name)
            .ok_or_else(|| ClusterError::NotFound(format!("Pod {namespace}/{name}")))?;
        w.terminate_pod(id);
        w.evaluate_outage();
        Ok(())
    }

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        // PodDisruptionBudgets are not modelled: an eviction always proceeds.
        self.delete_pod(namespace, name).await
    }

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate> {
        let w = self.lock();
        let id = w.certificate_id(namespace, name)?;
        Ok(w.certificate_view(id))
    }

    async fn list_certificates(&self, namespace: Option<&str>) -> ClusterResult<Vec<Certificate>> {
        let w = self.lock();
        Ok(w.certificate_index
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, &id)| w.certificate_view(id))
            .collect())
    }

    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut w = self.lock();
        let id = w.certificate_id(namespace, name)?;
        w.begin_issuance(
            id,
            "ManuallyTriggered",
            "Certificate re-issuance manually triggered",
        );
        Ok(())
    }

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        let w = self.lock();
        let s = w
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| ClusterError::NotFound(format!("Secret {namespace}/{name}")))?;
        Ok(Secret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            type_: s.type_.clone(),
            data: s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            labels: kv(&s.labels),
            annotations: kv(&s.annotations),
            resource_version: s.resource_version.to_string(),
        })
    }

    async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
        let mut w = self.lock();
        let key = (secret.namespace.clone(), secret.name.clone());
        let what = format!("Secret {}/{}", secret.namespace, secret.name);
        if secret.namespace.is_empty() || secret.name.is_empty() {
            return Err(ClusterError::Invalid(format!(
                "{what}: namespace and name are required"
            )));
        }
        match (&secret.expected_resource_version, w.secrets.get(&key)) {
            (Some(_), None) => return Err(ClusterError::NotFound(what)),
            (Some(expected), Some(existing))
                if *expected != existing.resource_version.to_string() =>
            {
                return Err(ClusterError::Conflict(format!(
                    "{what}: the object has been modified (resourceVersion {} is not {expected}); read it again and retry",
                    existing.resource_version
                )));
            }
            _ => {}
        }
        let type_ = if secret.type_.is_empty() {
            "Opaque".to_string()
        } else {
            secret.type_
        };
        if let Some(existing) = w.secrets.get(&key)
            && existing.type_ != type_
        {
            return Err(ClusterError::Invalid(format!(
                "{what}: type: field is immutable ({} cannot become {type_})",
                existing.type_
            )));
        }
        let rv = w.next_rv();
        w.secrets.insert(
            key,
            SecretRec {
                type_,
                data: secret.data.into_iter().collect(),
                labels: secret
                    .labels
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
                annotations: secret
                    .annotations
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
                resource_version: rv,
            },
        );
        w.secret_changed(&secret.namespace, &secret.name);
        Ok(rv.to_string())
    }

    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        let mut w = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let what = format!("Secret {namespace}/{name}");
        match w.secrets.get(&key) {
            None => return Err(ClusterError::NotFound(what)),
            Some(s) if s.resource_version.to_string() != resource_version => {
                return Err(ClusterError::Conflict(format!(
                    "{what}: the object has been modified (resourceVersion {} is not {resource_version})",
                    s.resource_version
                )));
            }
            Some(_) => {}
        }
        w.secrets.remove(&key);
        w.secret_changed(namespace, name);
        Ok(())
    }

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        let w = self.lock();
        let c = w
            .config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| ClusterError::NotFound(format!("ConfigMap {namespace}/{name}")))?;
        Ok(ConfigMap {
            namespace: namespace.to_string(),
            name: name.to_string(),
            data: c
                .data
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.to_string()))
                .collect(),
            labels: kv(&c.labels),
            annotations: kv(&c.annotations),
            resource_version: c.resource_version.to_string(),
        })
    }

    async fn list_events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        let w = self.lock();
        let mut out: Vec<Event> = w
            .events
            .iter()
            .filter(|e| &e.involved == involved && reason.is_none_or(|r| r == e.reason))
            .map(|e| Event {
                involved: e.involved.clone(),
                type_: e.type_,
                reason: e.reason.clone(),
                message: e.message.clone(),
                count: e.count,
                first_time: e.first,
                last_time: e.last,
                source: e.source.clone(),
            })
            .collect();
        out.sort_by_key(|e| e.first_time);
        Ok(out)
    }

    async fn record_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        if reason.is_empty() {
            return Err(ClusterError::Invalid("an event needs a reason".into()));
        }
        self.lock()
            .record_event(involved.clone(), type_, reason, message, "rotor");
        Ok(())
    }

    async fn load_progress(&self) -> ClusterResult<Option<String>> {
        let w = self.lock();
        Ok(w.config_maps
            .get(&(
                PROGRESS_NAMESPACE.to_string(),
                PROGRESS_CONFIG_MAP.to_string(),
            ))
            .and_then(|c| c.data.get(PROGRESS_KEY))
            .map(|v| v.to_string()))
    }

    async fn save_progress(&self, record: &str) -> ClusterResult<()> {
        let mut w = self.lock();
        w.put_config_map(
            PROGRESS_NAMESPACE,
            PROGRESS_CONFIG_MAP,
            PROGRESS_KEY,
            Arc::from(record),
        );
        Ok(())
    }

    async fn clear_progress(&self) -> ClusterResult<()> {
        let mut w = self.lock();
        w.config_maps.remove(&(
            PROGRESS_NAMESPACE.to_string(),
            PROGRESS_CONFIG_MAP.to_string(),
        ));
        Ok(())
    }

    async fn now(&self) -> Timestamp {
        self.lock().now
    }

    async fn wait(&self, seconds: u32) -> ClusterResult<()> {
        let mut w = self.lock();
        let target = w.now + i64::from(seconds);
        w.advance_to(target);
        Ok(())
    }
}
