//! rotor's one in-memory [`Cluster`] with scripted behaviour: restarts roll
//! one pod per virtual second, renewals complete one second later, and every
//! mutation that reaches it is logged. Enough to test the guard, the runtime,
//! a backend or a server against without the simulator.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::cluster::selector::Selector;
use crate::cluster::{Cluster, ClusterError, ClusterResult, IssuerRef};
use crate::wit::{
    Certificate, Condition, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, KeyValue,
    Namespace, ObjectRef, Pod, RolloutStatus, Secret, SecretWrite, Timestamp, UpdateStrategy,
    Workload, WorkloadKind,
};

/// Everything the fake holds; tests may read and edit it directly.
#[derive(Debug, Default)]
pub struct FakeState {
    pub now: Timestamp,
    pub namespaces: Vec<Namespace>,
    pub workloads: Vec<Workload>,
    pub pods: Vec<Pod>,
    pub certificates: Vec<Certificate>,
    /// Issuers and ClusterIssuers as read; one without `ca_secret_name` is
    /// of another type, which `set_ca_issuer_secret` refuses.
    pub issuers: Vec<Issuer>,
    pub secrets: BTreeMap<(String, String), Secret>,
    pub config_maps: BTreeMap<(String, String), ConfigMap>,
    pub events: Vec<Event>,
    pub progress: Option<String>,
    /// Pods whose eviction a PodDisruptionBudget refuses.
    pub pdb_protected: Vec<String>,
    pub rv: u64,
    /// Every mutation that reached the backend, in order.
    pub mutations: Vec<String>,
    /// `wait` never returns (a backend that hangs).
    pub stall_waits: bool,
    /// Workload and pod lists that asked for every namespace at once (what
    /// namespace-scoped RBAC refuses).
    pub cluster_wide_lists: u32,
}

#[derive(Debug, Default)]
pub struct FakeCluster {
    pub state: Mutex<FakeState>,
}

/// A ready issuer at generation 1: a CA issuer signing from `ca_secret`,
/// or (`None`) one of another type.
pub fn issuer(kind: &str, namespace: &str, name: &str, ca_secret: Option<&str>) -> Issuer {
    Issuer {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        ca_secret_name: ca_secret.map(String::from),
        generation: 1,
        ready: true,
    }
}

/// The chain's issuers: the CA ClusterIssuer `linkerd-identity-issuer`
/// signing from the trust anchor's Secret, and the self-signed Issuer
/// `cert-manager/linkerd-trust-root-issuer`.
pub fn linkerd_issuers() -> Vec<Issuer> {
    vec![
        issuer(
            "ClusterIssuer",
            "",
            "linkerd-identity-issuer",
            Some("linkerd-trust-anchor"),
        ),
        issuer("Issuer", "cert-manager", "linkerd-trust-root-issuer", None),
    ]
}

/// A Deployment of `replicas` pods (`<name>-abc12-<i>`), fully rolled out.
pub fn deployment(namespace: &str, name: &str, replicas: u32) -> (Workload, Vec<Pod>) {
    let w = Workload {
        kind: WorkloadKind::Deployment,
        namespace: namespace.into(),
        name: name.into(),
        labels: vec![KeyValue::new("app", name)],
        template_labels: vec![KeyValue::new("app", name)],
        template_annotations: vec![],
        selector: format!("app={name}"),
        strategy: UpdateStrategy::RollingUpdate,
        paused: false,
        partition: 0,
        generation: 1,
        observed_generation: 1,
        desired: replicas,
        current: replicas,
        updated: replicas,
        ready: replicas,
        available: replicas,
    };
    let pods = (0..replicas)
        .map(|i| Pod {
            namespace: namespace.into(),
            name: format!("{name}-abc12-{i:05}"),
            labels: vec![
                KeyValue::new("app", name),
                KeyValue::new("linkerd.io/control-plane-ns", "linkerd"),
                KeyValue::new("pod-template-hash", "abc12"),
            ],
            annotations: vec![KeyValue::new("linkerd.io/trust-root-sha256", "aa")],
            containers: vec!["app".into(), "linkerd-proxy".into()],
            init_containers: vec![],
            ready: true,
            phase: "Running".into(),
            node_name: "node-1".into(),
            start_time: Some(1_000),
            owner: Some(ObjectRef {
                kind: "Deployment".into(),
                namespace: namespace.into(),
                name: name.into(),
            }),
        })
        .collect();
    (w, pods)
}

/// Whether `labels` satisfy a selector parsed once per list call.
fn matches(selector: &Selector, labels: &[KeyValue]) -> bool {
    let labels = labels
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    selector.matches(&labels)
}

impl FakeCluster {
    pub fn new(state: FakeState) -> Self {
        FakeCluster {
            state: Mutex::new(state),
        }
    }

    /// Namespaces `cert-manager`, `emojivoto` and `linkerd`, a one-pod
    /// Deployment `<namespace>-app` in each, a paused Deployment
    /// `emojivoto/paused-app`, the trust anchor's Secret and
    /// [`linkerd_issuers`].
    pub fn standard() -> Self {
        let mut state = FakeState {
            now: 1_700_000_000,
            ..FakeState::default()
        };
        for ns in ["cert-manager", "emojivoto", "linkerd"] {
            state.namespaces.push(Namespace {
                name: ns.into(),
                labels: vec![],
                annotations: vec![],
            });
            let (w, pods) = deployment(ns, &format!("{ns}-app"), 1);
            state.workloads.push(w);
            state.pods.extend(pods);
        }
        let (mut paused, _) = deployment("emojivoto", "paused-app", 0);
        paused.paused = true;
        state.workloads.push(paused);
        state.rv = 1;
        state.secrets.insert(
            ("cert-manager".into(), "linkerd-trust-anchor".into()),
            Secret {
                namespace: "cert-manager".into(),
                name: "linkerd-trust-anchor".into(),
                type_: "kubernetes.io/tls".into(),
                data: vec![("tls.key".into(), b"super-secret-anchor-key".to_vec())],
                labels: vec![],
                annotations: vec![],
                resource_version: "s1".into(),
            },
        );
        state.issuers = linkerd_issuers();
        Self::new(state)
    }

    /// The mutations that reached the backend so far.
    pub fn mutations(&self) -> Vec<String> {
        self.lock().mutations.clone()
    }

    pub fn progress(&self) -> Option<String> {
        self.lock().progress.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn step(s: &mut FakeState) {
        s.now += 1;
        for w in &mut s.workloads {
            if w.observed_generation < w.generation {
                w.observed_generation = w.generation;
                w.updated = 0;
                w.available = 0;
            } else if w.updated < w.desired {
                w.updated += 1;
                w.available = w.updated;
                w.ready = w.updated;
            }
        }
        for c in &mut s.certificates {
            if c.issuing {
                c.issuing = false;
                c.conditions.retain(|c| c.type_ != "Issuing");
                c.revision = Some(c.revision.unwrap_or(0) + 1);
                c.not_before = Some(s.now);
            }
        }
    }
}

#[async_trait]
impl Cluster for FakeCluster {
    fn backend(&self) -> crate::cluster::Backend {
        crate::cluster::Backend::Simulated
    }

    async fn list_namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>> {
        let selector = Selector::parse(selector)?;
        let s = self.lock();
        Ok(s.namespaces
            .iter()
            .filter(|n| matches(&selector, &n.labels))
            .cloned()
            .collect())
    }

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        let selector = Selector::parse(selector)?;
        let mut s = self.lock();
        s.cluster_wide_lists += u32::from(namespace.is_none());
        Ok(s.workloads
            .iter()
            .filter(|w| {
                namespace.is_none_or(|n| n == w.namespace)
                    && kind.is_none_or(|k| k == w.kind)
                    && matches(&selector, &w.labels)
            })
            .cloned()
            .collect())
    }

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        self.lock()
            .workloads
            .iter()
            .find(|w| w.kind == kind && w.namespace == namespace && w.name == name)
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("{} {namespace}/{name}", kind.as_kind())))
    }

    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        let mut s = self.lock();
        let now = s.now;
        let w = s
            .workloads
            .iter_mut()
            .find(|w| w.kind == kind && w.namespace == namespace && w.name == name)
            .ok_or_else(|| {
                ClusterError::NotFound(format!("{} {namespace}/{name}", kind.as_kind()))
            })?;
        if w.paused {
            return Err(ClusterError::Invalid(format!(
                "{namespace}/{name} is paused"
            )));
        }
        w.generation += 1;
        w.template_annotations
            .retain(|kv| kv.key != crate::cluster::kube::workloads::RESTARTED_AT);
        let stamp = jiff::Timestamp::from_second(now)
            .map(|t| t.to_string())
            .unwrap_or_default();
        w.template_annotations.push(KeyValue::new(
            crate::cluster::kube::workloads::RESTARTED_AT,
            stamp,
        ));
        s.mutations.push(format!("restart {namespace}/{name}"));
        Ok(now)
    }

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        let w = self.get_workload(kind, namespace, name).await?;
        crate::cluster::kube::rollout::rollout_status(&w, false)
    }

    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        for _ in 0..timeout_seconds {
            let st = self.rollout_status(kind, namespace, name).await?;
            if st.phase != crate::wit::RolloutPhase::Progressing {
                return Ok(st);
            }
            Self::step(&mut self.lock());
        }
        self.rollout_status(kind, namespace, name).await
    }

    async fn wait_rollouts(
        &self,
        targets: &[crate::wit::WorkloadRef],
        timeout_seconds: u32,
        _cluster_wide: bool,
    ) -> ClusterResult<Vec<crate::wit::RolloutOutcome>> {
        let mut left = timeout_seconds;
        loop {
            let mut out = Vec::with_capacity(targets.len());
            for t in targets {
                out.push(self.rollout_status(t.kind, &t.namespace, &t.name).await?);
            }
            let done = out
                .iter()
                .any(|s| s.phase != crate::wit::RolloutPhase::Progressing);
            if done || left == 0 {
                return Ok(crate::cluster::finished(out));
            }
            left -= 1;
            Self::step(&mut self.lock());
        }
    }

    /// Logs the request; an owner exists while a pod lists it. The fake
    /// replaces no pods: that is the simulator's part.
    async fn restart_owner(&self, owner: &ObjectRef) -> ClusterResult<Timestamp> {
        crate::cluster::check_owner_kind(&owner.kind)?;
        let mut s = self.lock();
        if !s.pods.iter().any(|p| p.owner.as_ref() == Some(owner)) {
            return Err(ClusterError::NotFound(format!(
                "{} {}/{}",
                owner.kind, owner.namespace, owner.name
            )));
        }
        let target = format!("{} {}/{}", owner.kind, owner.namespace, owner.name);
        s.mutations.push(format!("restart-owner {target}"));
        Ok(s.now)
    }

    async fn list_pods(&self, namespace: Option<&str>, selector: &str) -> ClusterResult<Vec<Pod>> {
        let selector = Selector::parse(selector)?;
        let mut s = self.lock();
        s.cluster_wide_lists += u32::from(namespace.is_none());
        Ok(s.pods
            .iter()
            .filter(|p| namespace.is_none_or(|n| n == p.namespace) && matches(&selector, &p.labels))
            .cloned()
            .collect())
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut s = self.lock();
        let before = s.pods.len();
        s.pods
            .retain(|p| !(p.namespace == namespace && p.name == name));
        if s.pods.len() == before {
            return Err(ClusterError::NotFound(format!("pod {namespace}/{name}")));
        }
        s.mutations.push(format!("delete pod {namespace}/{name}"));
        Ok(())
    }

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        if self.lock().pdb_protected.iter().any(|p| p == name) {
            return Err(ClusterError::Conflict(format!(
                "pod {namespace}/{name} is protected by a PodDisruptionBudget"
            )));
        }
        self.delete_pod(namespace, name).await
    }

    /// The fake serves no pod's metrics.
    async fn get_pod_metrics(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> ClusterResult<String> {
        Err(ClusterError::Unavailable(format!(
            "pod {namespace}/{name} port {port}: the fake cluster serves no metrics"
        )))
    }

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate> {
        self.lock()
            .certificates
            .iter()
            .find(|c| c.namespace == namespace && c.name == name)
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("certificate {namespace}/{name}")))
    }

    async fn list_certificates(&self, namespace: Option<&str>) -> ClusterResult<Vec<Certificate>> {
        Ok(self
            .lock()
            .certificates
            .iter()
            .filter(|c| namespace.is_none_or(|n| n == c.namespace))
            .cloned()
            .collect())
    }

    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut s = self.lock();
        let now = s.now;
        let c = s
            .certificates
            .iter_mut()
            .find(|c| c.namespace == namespace && c.name == name)
            .ok_or_else(|| ClusterError::NotFound(format!("certificate {namespace}/{name}")))?;
        c.issuing = true;
        c.conditions.retain(|c| c.type_ != "Issuing");
        c.conditions.push(Condition {
            type_: "Issuing".into(),
            status: "True".into(),
            reason: "ManuallyTriggered".into(),
            message: "Certificate re-issuance manually triggered".into(),
            observed_generation: Some(c.generation),
            last_transition_time: Some(now),
        });
        s.mutations
            .push(format!("renew certificate {namespace}/{name}"));
        Ok(())
    }

    async fn get_issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer> {
        let s = self.lock();
        s.issuers
            .iter()
            .find(|i| fake_issuer_is(i, issuer))
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(issuer.to_string()))
    }

    /// Sets the Secret and bumps the generation; readiness stays as the
    /// test left it.
    async fn set_ca_issuer_secret(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()> {
        let mut s = self.lock();
        let i = s
            .issuers
            .iter_mut()
            .find(|i| fake_issuer_is(i, issuer))
            .ok_or_else(|| ClusterError::NotFound(issuer.to_string()))?;
        let Some(secret) = i.ca_secret_name.as_mut() else {
            return Err(ClusterError::Invalid(format!(
                "{issuer} is not a CA issuer"
            )));
        };
        *secret = secret_name.to_string();
        i.generation += 1;
        s.mutations
            .push(format!("set ca issuer {issuer} secret {secret_name}"));
        Ok(())
    }

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        self.lock()
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("secret {namespace}/{name}")))
    }

    async fn write_secret(&self, w: SecretWrite) -> ClusterResult<String> {
        let mut s = self.lock();
        let key = (w.namespace.clone(), w.name.clone());
        if let Some(expected) = &w.expected_resource_version {
            let current = s.secrets.get(&key).map(|x| x.resource_version.clone());
            if current.as_ref() != Some(expected) {
                return Err(ClusterError::Conflict(format!(
                    "secret {}/{} changed",
                    w.namespace, w.name
                )));
            }
        }
        s.rv += 1;
        let rv = format!("s{}", s.rv);
        s.mutations
            .push(format!("write secret {}/{}", w.namespace, w.name));
        s.secrets.insert(
            key,
            Secret {
                namespace: w.namespace,
                name: w.name,
                type_: w.type_,
                data: w.data,
                labels: w.labels,
                annotations: w.annotations,
                resource_version: rv.clone(),
            },
        );
        Ok(rv)
    }

    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        let mut s = self.lock();
        let key = (namespace.to_string(), name.to_string());
        match s.secrets.get(&key) {
            None => Err(ClusterError::NotFound(format!("secret {namespace}/{name}"))),
            Some(x) if x.resource_version != resource_version => Err(ClusterError::Conflict(
                format!("secret {namespace}/{name} changed"),
            )),
            Some(_) => {
                s.secrets.remove(&key);
                s.mutations
                    .push(format!("delete secret {namespace}/{name}"));
                Ok(())
            }
        }
    }

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        self.lock()
            .config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("config map {namespace}/{name}")))
    }

    async fn write_config_map(&self, w: ConfigMapWrite) -> ClusterResult<String> {
        let mut s = self.lock();
        let key = (w.namespace.clone(), w.name.clone());
        if let Some(expected) = &w.expected_resource_version {
            let current = s.config_maps.get(&key).map(|x| x.resource_version.clone());
            if current.as_ref() != Some(expected) {
                return Err(ClusterError::Conflict(format!(
                    "config map {}/{} changed",
                    w.namespace, w.name
                )));
            }
        }
        s.rv += 1;
        let rv = format!("c{}", s.rv);
        s.mutations
            .push(format!("write config map {}/{}", w.namespace, w.name));
        s.config_maps.insert(
            key,
            ConfigMap {
                namespace: w.namespace,
                name: w.name,
                data: w.data,
                labels: w.labels,
                annotations: w.annotations,
                resource_version: rv.clone(),
            },
        );
        Ok(rv)
    }

    async fn list_events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|e| &e.involved == involved && reason.is_none_or(|r| r == e.reason))
            .cloned()
            .collect())
    }

    async fn record_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        let mut s = self.lock();
        let now = s.now;
        s.mutations.push(format!(
            "event {}/{} {reason}: {message}",
            involved.namespace, involved.name
        ));
        s.events.push(Event {
            involved: involved.clone(),
            type_,
            reason: reason.into(),
            message: message.into(),
            count: 1,
            first_time: now,
            last_time: now,
            source: "rotor".into(),
        });
        Ok(())
    }

    async fn load_progress(&self) -> ClusterResult<Option<String>> {
        Ok(self.lock().progress.clone())
    }

    async fn save_progress(&self, record: &str) -> ClusterResult<()> {
        let mut s = self.lock();
        s.progress = Some(record.to_string());
        s.mutations.push("save progress".into());
        Ok(())
    }

    async fn clear_progress(&self) -> ClusterResult<()> {
        let mut s = self.lock();
        s.progress = None;
        s.mutations.push("clear progress".into());
        Ok(())
    }

    async fn now(&self) -> Timestamp {
        self.lock().now
    }

    async fn wait(&self, seconds: u32) -> ClusterResult<()> {
        if self.lock().stall_waits {
            std::future::pending::<()>().await;
        }
        let mut s = self.lock();
        for _ in 0..seconds {
            Self::step(&mut s);
        }
        Ok(())
    }
}

fn fake_issuer_is(i: &Issuer, issuer: &IssuerRef) -> bool {
    i.kind == issuer.kind.as_str() && i.namespace == issuer.namespace && i.name == issuer.name
}
