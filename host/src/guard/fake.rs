//! A small in-memory [`Cluster`] for testing the guard and the runtime
//! without the simulator: a clock, namespaces, Deployments, pods, Secrets and
//! a log of the mutations that reached it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::cluster::{Cluster, ClusterError, ClusterResult};
use crate::wit::{
    Certificate, ConfigMap, Event, EventType, Namespace, ObjectRef, Pod, RolloutPhase,
    RolloutStatus, Secret, SecretWrite, Timestamp, UpdateStrategy, Workload, WorkloadKind,
};

#[derive(Default)]
pub struct FakeState {
    pub now: Timestamp,
    pub namespaces: Vec<String>,
    /// (namespace, name, paused)
    pub deployments: Vec<(String, String, bool)>,
    pub pods: Vec<(String, String)>,
    pub secrets: BTreeMap<(String, String), Secret>,
    pub progress: Option<String>,
    /// Every mutation that reached the backend, in order.
    pub mutations: Vec<String>,
    /// `wait` never returns (a backend that hangs).
    pub stall_waits: bool,
    /// Workload and pod lists that asked for every namespace at once (what
    /// namespace-scoped RBAC refuses).
    pub cluster_wide_lists: u32,
}

pub struct FakeCluster {
    pub state: Mutex<FakeState>,
}

impl FakeCluster {
    /// Namespaces `linkerd`, `cert-manager`, `emojivoto`; a Deployment and a
    /// pod in each; the trust-anchor Secret.
    pub fn new() -> FakeCluster {
        let mut state = FakeState {
            now: 1_700_000_000,
            ..FakeState::default()
        };
        for ns in ["cert-manager", "emojivoto", "linkerd"] {
            state.namespaces.push(ns.to_string());
            state
                .deployments
                .push((ns.to_string(), format!("{ns}-app"), false));
            state.pods.push((ns.to_string(), format!("{ns}-app-0")));
        }
        state
            .deployments
            .push(("emojivoto".into(), "paused-app".into(), true));
        state.secrets.insert(
            ("cert-manager".into(), "linkerd-trust-anchor".into()),
            Secret {
                namespace: "cert-manager".into(),
                name: "linkerd-trust-anchor".into(),
                type_: "kubernetes.io/tls".into(),
                data: vec![("tls.key".into(), b"super-secret-anchor-key".to_vec())],
                labels: vec![],
                annotations: vec![],
                resource_version: "1".into(),
            },
        );
        FakeCluster {
            state: Mutex::new(state),
        }
    }

    pub fn mutations(&self) -> Vec<String> {
        self.lock().mutations.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn workload(ns: &str, name: &str, paused: bool) -> Workload {
    Workload {
        kind: WorkloadKind::Deployment,
        namespace: ns.into(),
        name: name.into(),
        labels: vec![],
        template_labels: vec![],
        template_annotations: vec![],
        selector: format!("app={name}"),
        strategy: UpdateStrategy::RollingUpdate,
        paused,
        partition: 0,
        generation: 1,
        observed_generation: 1,
        desired: 1,
        current: 1,
        updated: 1,
        ready: 1,
        available: 1,
    }
}

#[async_trait]
impl Cluster for FakeCluster {
    fn backend(&self) -> &'static str {
        "simulated"
    }

    async fn list_namespaces(&self, _selector: &str) -> ClusterResult<Vec<Namespace>> {
        Ok(self
            .lock()
            .namespaces
            .iter()
            .map(|n| Namespace {
                name: n.clone(),
                labels: vec![],
                annotations: vec![],
            })
            .collect())
    }

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        _selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        let mut state = self.lock();
        state.cluster_wide_lists += u32::from(namespace.is_none());
        if kind.is_some_and(|k| k != WorkloadKind::Deployment) {
            return Ok(vec![]);
        }
        Ok(state
            .deployments
            .iter()
            .filter(|(ns, _, _)| namespace.is_none_or(|n| n == ns))
            .map(|(ns, name, paused)| workload(ns, name, *paused))
            .collect())
    }

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        self.list_workloads(Some(namespace), Some(kind), "")
            .await?
            .into_iter()
            .find(|w| w.name == name)
            .ok_or_else(|| ClusterError::NotFound(format!("{} {namespace}/{name}", kind.as_kind())))
    }

    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        let w = self.get_workload(kind, namespace, name).await?;
        if w.paused {
            return Err(ClusterError::Invalid(format!(
                "{namespace}/{name} is paused"
            )));
        }
        let mut state = self.lock();
        state.mutations.push(format!("restart {namespace}/{name}"));
        Ok(state.now)
    }

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        self.get_workload(kind, namespace, name).await?;
        Ok(RolloutStatus {
            phase: RolloutPhase::Complete,
            message: "successfully rolled out".into(),
        })
    }

    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        _timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        self.rollout_status(kind, namespace, name).await
    }

    async fn list_pods(&self, namespace: Option<&str>, _selector: &str) -> ClusterResult<Vec<Pod>> {
        let mut state = self.lock();
        state.cluster_wide_lists += u32::from(namespace.is_none());
        Ok(state
            .pods
            .iter()
            .filter(|(ns, _)| namespace.is_none_or(|n| n == ns))
            .map(|(ns, name)| Pod {
                namespace: ns.clone(),
                name: name.clone(),
                labels: vec![],
                annotations: vec![],
                containers: vec!["app".into()],
                init_containers: vec![],
                ready: true,
                phase: "Running".into(),
                node_name: "node-1".into(),
                start_time: None,
                owner: None,
            })
            .collect())
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut state = self.lock();
        let before = state.pods.len();
        state.pods.retain(|(ns, n)| !(ns == namespace && n == name));
        if state.pods.len() == before {
            return Err(ClusterError::NotFound(format!("pod {namespace}/{name}")));
        }
        state
            .mutations
            .push(format!("delete pod {namespace}/{name}"));
        Ok(())
    }

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.delete_pod(namespace, name).await
    }

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate> {
        Err(ClusterError::NotFound(format!(
            "certificate {namespace}/{name}"
        )))
    }

    async fn list_certificates(&self, _namespace: Option<&str>) -> ClusterResult<Vec<Certificate>> {
        Ok(vec![])
    }

    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        Err(ClusterError::NotFound(format!(
            "certificate {namespace}/{name}"
        )))
    }

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        self.lock()
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("secret {namespace}/{name}")))
    }

    async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
        let mut state = self.lock();
        state
            .mutations
            .push(format!("write secret {}/{}", secret.namespace, secret.name));
        let key = (secret.namespace.clone(), secret.name.clone());
        let version = state
            .secrets
            .get(&key)
            .and_then(|s| s.resource_version.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        state.secrets.insert(
            key,
            Secret {
                namespace: secret.namespace,
                name: secret.name,
                type_: secret.type_,
                data: secret.data,
                labels: secret.labels,
                annotations: secret.annotations,
                resource_version: version.to_string(),
            },
        );
        Ok(version.to_string())
    }

    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        _resource_version: &str,
    ) -> ClusterResult<()> {
        let mut state = self.lock();
        state
            .mutations
            .push(format!("delete secret {namespace}/{name}"));
        state
            .secrets
            .remove(&(namespace.to_string(), name.to_string()))
            .map(|_| ())
            .ok_or_else(|| ClusterError::NotFound(format!("secret {namespace}/{name}")))
    }

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        Err(ClusterError::NotFound(format!(
            "config map {namespace}/{name}"
        )))
    }

    async fn list_events(
        &self,
        _involved: &ObjectRef,
        _reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        Ok(vec![])
    }

    async fn record_event(
        &self,
        involved: &ObjectRef,
        _type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        self.lock().mutations.push(format!(
            "event {}/{} {reason}: {message}",
            involved.namespace, involved.name
        ));
        Ok(())
    }

    async fn load_progress(&self) -> ClusterResult<Option<String>> {
        Ok(self.lock().progress.clone())
    }

    async fn save_progress(&self, record: &str) -> ClusterResult<()> {
        let mut state = self.lock();
        state.progress = Some(record.to_string());
        state.mutations.push("save progress".into());
        Ok(())
    }

    async fn clear_progress(&self) -> ClusterResult<()> {
        let mut state = self.lock();
        state.progress = None;
        state.mutations.push("clear progress".into());
        Ok(())
    }

    async fn now(&self) -> Timestamp {
        self.lock().now
    }

    async fn wait(&self, seconds: u32) -> ClusterResult<()> {
        if self.lock().stall_waits {
            std::future::pending::<()>().await;
        }
        self.lock().now += i64::from(seconds);
        Ok(())
    }
}

impl FakeCluster {
    pub fn lock_progress(&self) -> Option<String> {
        self.lock().progress.clone()
    }
}
