//! Which workloads run Linkerd proxies, found from the pods themselves.
//!
//! Namespace annotations miss pod-level injection; the pods do not lie. A
//! pod is meshed when it carries `linkerd.io/control-plane-ns` (the
//! [`mesh_selector`] every list here uses) and a `linkerd-proxy` container
//! (or native sidecar: an init container with `restartPolicy: Always`,
//! which summaries list after the containers).
//!
//! Pods are read as `pod-summary` records: the gates poll every meshed pod
//! of the mesh, and a summary without labels crosses into the policy several
//! times faster than a whole `pod`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::WorkloadKind;
use crate::error::{CallContext, RotorError};
use crate::fingerprint::short;
use crate::gate::{HostClock, POLL_SECONDS, wait_for};
use crate::pods::{self, PodSummary};
use crate::restart::pods_check;
use crate::workloads::{self, RolloutPhase, UpdateStrategy, Workload};

pub const CONTROL_PLANE_NS_LABEL: &str = "linkerd.io/control-plane-ns";
pub const PROXY_CONTAINER: &str = "linkerd-proxy";
pub const TRUST_ROOT_ANNOTATION: &str = "linkerd.io/trust-root-sha256";
/// Written by the proxy injector into each pod it injects.
pub const PROXY_VERSION_ANNOTATION: &str = "linkerd.io/proxy-version";
/// Asked of `list-pod-summaries`, answered by the host (not read from the
/// pod): why a native-sidecar proxy holds its pod in Init, once the kubelet
/// has restarted it. Waiting will not fix such a pod.
pub const NOT_READY_KEY: &str = "rotor.dev/not-ready";

/// A workload by kind, namespace and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Kind {
    /// The Kubernetes kind as an owner reference spells it.
    pub fn from_owner_kind(kind: &str) -> Option<Kind> {
        match kind {
            "Deployment" => Some(Kind::Deployment),
            "StatefulSet" => Some(Kind::StatefulSet),
            "DaemonSet" => Some(Kind::DaemonSet),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
        }
    }
}

impl From<WorkloadKind> for Kind {
    fn from(k: WorkloadKind) -> Self {
        match k {
            WorkloadKind::Deployment => Kind::Deployment,
            WorkloadKind::StatefulSet => Kind::StatefulSet,
            WorkloadKind::DaemonSet => Kind::DaemonSet,
        }
    }
}

impl From<Kind> for WorkloadKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Deployment => WorkloadKind::Deployment,
            Kind::StatefulSet => WorkloadKind::StatefulSet,
            Kind::DaemonSet => WorkloadKind::DaemonSet,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadId {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl WorkloadId {
    pub fn of(w: &Workload) -> Self {
        WorkloadId {
            kind: w.kind.into(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
        }
    }
}

impl fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

fn value<'a>(pairs: &'a [crate::KeyValue], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// The label selector of the pods meshed with the control plane in
/// `control_plane_ns`.
pub fn mesh_selector(control_plane_ns: &str) -> String {
    format!("{CONTROL_PLANE_NS_LABEL}={control_plane_ns}")
}

/// Pods in `namespace` (all namespaces: `None`) matching `selector`, with
/// what the gates read: the trust-roots hash and [`NOT_READY_KEY`].
pub fn list_pods(namespace: Option<&str>, selector: &str) -> Result<Vec<PodSummary>, RotorError> {
    let keys = [TRUST_ROOT_ANNOTATION.to_string(), NOT_READY_KEY.to_string()];
    pods::list_pod_summaries(namespace, selector, &keys).call(|| match namespace {
        Some(ns) => format!("list pods in {ns} with {selector:?}"),
        None => format!("list pods with {selector:?}"),
    })
}

/// Whether a pod listed with [`mesh_selector`] runs a Linkerd proxy.
/// Finished pods (a completed Job's) run none and need nothing from a
/// rotation.
pub fn is_meshed(pod: &PodSummary) -> bool {
    pod.containers.iter().any(|c| c == PROXY_CONTAINER)
        && pod.phase != "Succeeded"
        && pod.phase != "Failed"
}

/// Why the pod is held in Init by its proxy sidecar (see [`NOT_READY_KEY`]).
pub fn held_in_init(pod: &PodSummary) -> Option<&str> {
    value(&pod.annotations, NOT_READY_KEY)
}

/// `namespace/pod: why` for each pod of `pods` held in Init.
pub fn pods_held_in_init<'a>(pods: impl IntoIterator<Item = &'a PodSummary>) -> Vec<String> {
    pods.into_iter()
        .filter_map(|p| Some(format!("{}: {}", pod_name(p), held_in_init(p)?)))
        .collect()
}

/// The trust-roots hash the pod's proxy started with, if annotated.
pub fn trust_root_hash(pod: &PodSummary) -> Option<&str> {
    value(&pod.annotations, TRUST_ROOT_ANNOTATION)
}

/// The workload that owns a pod, when it is one rotor can restart.
pub fn owner_id(pod: &PodSummary) -> Option<WorkloadId> {
    let owner = pod.owner.as_ref()?;
    Some(WorkloadId {
        kind: Kind::from_owner_kind(&owner.kind)?,
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
    })
}

/// `namespace/name` of a pod.
pub fn pod_name(pod: &PodSummary) -> String {
    format!("{}/{}", pod.namespace, pod.name)
}

/// A meshed workload and its meshed pods.
#[derive(Debug, Clone)]
pub struct MeshedWorkload {
    pub workload: Workload,
    pub pods: Vec<PodSummary>,
}

/// Every meshed proxy, grouped by the workload that can restart it.
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    pub workloads: BTreeMap<WorkloadId, MeshedWorkload>,
    /// Meshed pods with no owner: nothing restarts them.
    pub bare_pods: Vec<PodSummary>,
    /// Meshed pods owned by something rotor does not restart (a Job, or a
    /// workload it could not read), with the owner as text.
    pub unmanaged_pods: Vec<(PodSummary, String)>,
}

impl Mesh {
    /// Group `pods` (meshed or not) under their owners among `workloads`.
    pub fn build(pods: Vec<PodSummary>, workloads: Vec<Workload>) -> Mesh {
        let mut by_id: BTreeMap<WorkloadId, Workload> = workloads
            .into_iter()
            .map(|w| (WorkloadId::of(&w), w))
            .collect();
        let mut mesh = Mesh::default();
        for pod in pods.into_iter().filter(is_meshed) {
            let Some(owner) = &pod.owner else {
                mesh.bare_pods.push(pod);
                continue;
            };
            let owner_text = || format!("{} {}/{}", owner.kind, owner.namespace, owner.name);
            let Some(id) = owner_id(&pod) else {
                let text = owner_text();
                mesh.unmanaged_pods.push((pod, text));
                continue;
            };
            if let Some(entry) = mesh.workloads.get_mut(&id) {
                entry.pods.push(pod);
            } else if let Some(w) = by_id.remove(&id) {
                mesh.workloads.insert(
                    id,
                    MeshedWorkload {
                        workload: w,
                        pods: vec![pod],
                    },
                );
            } else {
                let text = format!("{} (not found)", owner_text());
                mesh.unmanaged_pods.push((pod, text));
            }
        }
        mesh
    }

    /// Meshed Deployments that are paused: a restart would be refused.
    pub fn paused(&self) -> Vec<&WorkloadId> {
        self.workloads
            .iter()
            .filter(|(_, w)| w.workload.paused)
            .map(|(id, _)| id)
            .collect()
    }

    /// Every meshed pod, wherever it belongs.
    pub fn all_pods(&self) -> impl Iterator<Item = &PodSummary> {
        self.workloads
            .values()
            .flat_map(|w| w.pods.iter())
            .chain(self.bare_pods.iter())
            .chain(self.unmanaged_pods.iter().map(|(p, _)| p))
    }

    /// Meshed proxies no workload restart reaches, as "pod ns/name (why)".
    pub fn unrestartable(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .bare_pods
            .iter()
            .map(|p| format!("pod {} (bare pod, no owner)", pod_name(p)))
            .collect();
        out.extend(
            self.unmanaged_pods
                .iter()
                .map(|(p, owner)| format!("pod {} (owned by {owner})", pod_name(p))),
        );
        out.extend(self.paused().into_iter().map(|id| format!("{id} (paused)")));
        out
    }

    /// Workloads injected ahead of time (`linkerd inject --manual`, rendered
    /// manifests), as "kind ns/name": their pod template already carries the
    /// proxy, its trust roots and the injector's annotations. The injector
    /// skips pods that have a proxy (`sidecarExists` in Linkerd's
    /// `pkg/inject/report.go`), so a restart gives them the template's roots
    /// again, never the bundle's. The injector writes its annotations into
    /// pods only, so one in a template is the mark.
    pub fn pre_injected(&self, control_plane_ns: &str) -> Vec<String> {
        self.workloads
            .iter()
            .filter(|(id, _)| id.namespace != control_plane_ns)
            .filter(|(_, w)| {
                value(&w.workload.template_annotations, PROXY_VERSION_ANNOTATION).is_some()
            })
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Drop workloads (and their pods) that `keep` rejects.
    pub fn retain(&mut self, mut keep: impl FnMut(&WorkloadId) -> bool) {
        self.workloads.retain(|id, _| keep(id));
    }
}

/// Read every pod meshed with the control plane in `control_plane_ns`, and
/// the workloads that own them, across all namespaces.
pub fn discover(control_plane_ns: &str) -> Result<Mesh, RotorError> {
    let pods = list_pods(None, &mesh_selector(control_plane_ns))?;
    let workloads =
        workloads::list_workloads(None, None, "").call(|| "list workloads in all namespaces")?;
    Ok(Mesh::build(pods, workloads))
}

/// [`discover`] within `namespaces` only: the control plane or the
/// extensions, without reading the whole mesh. As with [`discover`], a
/// namespace the run may not read holds nothing it can see.
pub fn discover_in(control_plane_ns: &str, namespaces: &[&str]) -> Result<Mesh, RotorError> {
    let selector = mesh_selector(control_plane_ns);
    let mut pods = Vec::new();
    let mut found = Vec::new();
    for ns in namespaces {
        let listed = list_pods(Some(ns), &selector).and_then(|p| {
            let w = workloads::list_workloads(Some(ns), None, "")
                .call(|| format!("list workloads in {ns}"))?;
            Ok((p, w))
        });
        match listed {
            Ok((p, w)) => {
                pods.extend(p);
                found.extend(w);
            }
            Err(RotorError::Call {
                error: crate::Error::Denied(_),
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Mesh::build(pods, found))
}

/// Why a pod's proxy does not hold the trust roots hashed `expected`
/// (`None` when it does), judged by the `linkerd.io/trust-root-sha256`
/// annotation: the injector hashes the roots it writes into the pod. Only
/// injected pods can be judged so; see [`stale_roots`].
pub fn roots_differ(expected: &str) -> impl Fn(&PodSummary) -> Option<String> + '_ {
    move |pod: &PodSummary| match trust_root_hash(pod) {
        Some(h) if h == expected => None,
        Some(h) => Some(format!("trust roots {} not {}", short(h), short(expected))),
        None => Some(format!("no {TRUST_ROOT_ANNOTATION} annotation")),
    }
}

/// A control-plane pod as it was when the trust-roots ConfigMap was seen
/// holding what the rotation asked of it. Its proxy may hold the bundle
/// from before; a pod not among those seen (another name, or the same name
/// started again) started its proxy after, so it read the new bundle.
///
/// Pods are compared with pods, not with a clock: rotor's clock and the
/// clocks that stamp pod start times (each node's kubelet) need not agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenPod {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
}

/// The meshed control-plane pods in `control_plane_ns` now, as [`SeenPod`]s.
pub fn control_plane_pods(control_plane_ns: &str) -> Result<Vec<SeenPod>, RotorError> {
    Ok(
        list_pods(Some(control_plane_ns), &mesh_selector(control_plane_ns))?
            .into_iter()
            .filter(is_meshed)
            .map(|p| SeenPod {
                name: p.name,
                started: p.start_time,
            })
            .collect(),
    )
}

/// Why a pod's proxy may not hold the trust bundle hashed `hash` (`None`
/// when it does). Injected pods show their roots in their annotation
/// ([`roots_differ`]). Control-plane pods do not: their annotation is the
/// chart's install-time hash, which no restart changes, and their proxies
/// read the ConfigMap through an env var when the container starts. So a
/// control-plane pod is stale when it is one of `seen`, the pods that ran
/// when the ConfigMap was seen holding `hash`.
pub fn stale_roots(
    control_plane_ns: &str,
    hash: &str,
    seen: &[SeenPod],
) -> impl Fn(&PodSummary) -> Option<String> + use<> {
    let (control_plane_ns, hash) = (control_plane_ns.to_string(), hash.to_string());
    let seen: Vec<SeenPod> = seen.to_vec();
    move |pod: &PodSummary| {
        if pod.namespace != control_plane_ns {
            return roots_differ(&hash)(pod);
        }
        let ran_before = seen
            .iter()
            .any(|s| s.name == pod.name && s.started == pod.start_time);
        match pod.start_time {
            None => Some("not started".to_string()),
            Some(_) if ran_before => Some("started before the trust roots changed".to_string()),
            Some(_) => None,
        }
    }
}

/// Whether a workload's rollout may have failed, so its status is worth a
/// read. Only a Deployment can fail (its progress deadline); one whose
/// listed counts show a finished rollout has not, as the controller clears
/// `ProgressDeadlineExceeded` when the new ReplicaSet becomes available.
/// `OnDelete` workloads have no rollout status (kubectl refuses to report one).
pub fn may_have_failed(w: &Workload) -> bool {
    let finished = w.observed_generation >= w.generation
        && w.updated == w.desired
        && w.current == w.desired
        && w.available == w.desired;
    w.kind == WorkloadKind::Deployment && w.strategy != UpdateStrategy::OnDelete && !finished
}

/// Meshed workloads whose rollout already failed, as "kind ns/name: message".
/// Reads the rollout status of the workloads that [`may_have_failed`] only:
/// one read per unfinished Deployment, none for a settled mesh.
pub fn failing_rollouts(mesh: &Mesh) -> Result<Vec<String>, RotorError> {
    let mut out = Vec::new();
    let rolling = mesh
        .workloads
        .iter()
        .filter(|(_, w)| may_have_failed(&w.workload));
    for (id, _) in rolling {
        let status = workloads::get_rollout_status(id.kind.into(), &id.namespace, &id.name)
            .call(|| format!("rollout status of {id}"))?;
        if status.phase == RolloutPhase::Failed {
            out.push(format!("{id}: {}", status.message));
        }
    }
    Ok(out)
}

/// Gate `gate`: wait until no meshed pod anywhere (restartable or not) has
/// a problem. Returns the number of pods checked.
pub fn wait_every_pod(
    control_plane_ns: &str,
    gate: &str,
    timeout: u32,
    problem: &dyn Fn(&PodSummary) -> Option<String>,
) -> Result<usize, RotorError> {
    let selector = mesh_selector(control_plane_ns);
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let pods = list_pods(None, &selector)?;
        let bad: Vec<String> = pods
            .iter()
            .filter(|p| is_meshed(p))
            .filter_map(|p| problem(p).map(|why| format!("{} ({why})", pod_name(p))))
            .collect();
        Ok(pods_check(
            pods.iter().filter(|p| is_meshed(p)).count(),
            bad,
        ))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{KeyValue, ObjectRef};

    pub fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.into(),
        }
    }

    pub fn pod(ns: &str, name: &str, owner: Option<(&str, &str)>, meshed: bool) -> PodSummary {
        PodSummary {
            namespace: ns.into(),
            name: name.into(),
            annotations: vec![kv(TRUST_ROOT_ANNOTATION, "h1")],
            containers: if meshed {
                vec!["app".into(), PROXY_CONTAINER.into()]
            } else {
                vec!["app".into()]
            },
            ready: true,
            phase: "Running".into(),
            node_name: "node-1".into(),
            start_time: Some(100),
            owner: owner.map(|(kind, name)| ObjectRef {
                kind: kind.into(),
                namespace: ns.into(),
                name: name.into(),
            }),
        }
    }

    pub fn workload(kind: WorkloadKind, ns: &str, name: &str) -> Workload {
        Workload {
            kind,
            namespace: ns.into(),
            name: name.into(),
            labels: vec![],
            template_labels: vec![],
            template_annotations: vec![],
            selector: format!("app={name}"),
            strategy: UpdateStrategy::RollingUpdate,
            paused: false,
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

    #[test]
    fn meshed_needs_a_running_proxy() {
        assert!(is_meshed(&pod("a", "p", None, true)));
        assert!(!is_meshed(&pod("a", "p", None, false)));
        let mut sidecar = pod("a", "p", None, false);
        // Summaries list init containers after containers: a native sidecar.
        sidecar.containers.push(PROXY_CONTAINER.into());
        assert!(is_meshed(&sidecar), "native sidecar counts");
        let mut finished = pod("a", "job-x", Some(("Job", "job")), true);
        finished.phase = "Succeeded".into();
        assert!(!is_meshed(&finished), "a completed pod runs no proxy");
        assert_eq!(
            mesh_selector("linkerd"),
            "linkerd.io/control-plane-ns=linkerd"
        );
    }

    #[test]
    fn pods_group_under_owners_and_strays_are_reported() {
        let pods = vec![
            pod("shop", "web-1", Some(("Deployment", "web")), true),
            pod("shop", "web-2", Some(("Deployment", "web")), true),
            pod("shop", "db-0", Some(("StatefulSet", "db")), true),
            pod("shop", "plain", Some(("Deployment", "plain")), false),
            pod("shop", "debug", None, true),
            pod("shop", "migrate-x", Some(("Job", "migrate")), true),
            pod("shop", "ghost-1", Some(("Deployment", "ghost")), true),
        ];
        let mut paused = workload(WorkloadKind::Deployment, "shop", "web");
        paused.paused = true;
        let workloads = vec![
            paused,
            workload(WorkloadKind::StatefulSet, "shop", "db"),
            workload(WorkloadKind::Deployment, "shop", "plain"),
        ];
        let mesh = Mesh::build(pods, workloads);
        assert_eq!(mesh.workloads.len(), 2, "unmeshed 'plain' is not listed");
        let web = WorkloadId {
            kind: Kind::Deployment,
            namespace: "shop".into(),
            name: "web".into(),
        };
        assert_eq!(mesh.workloads[&web].pods.len(), 2);
        assert_eq!(mesh.bare_pods.len(), 1);
        assert_eq!(mesh.unmanaged_pods.len(), 2);
        assert_eq!(mesh.paused(), vec![&web]);
        assert_eq!(mesh.all_pods().count(), 6);
        let blockers = mesh.unrestartable();
        assert_eq!(
            blockers,
            vec![
                "pod shop/debug (bare pod, no owner)".to_string(),
                "pod shop/migrate-x (owned by Job shop/migrate)".to_string(),
                "pod shop/ghost-1 (owned by Deployment shop/ghost (not found))".to_string(),
                "deployment shop/web (paused)".to_string(),
            ]
        );
    }

    #[test]
    fn only_unfinished_deployments_may_have_failed() {
        let settled = workload(WorkloadKind::Deployment, "shop", "web");
        assert!(
            !may_have_failed(&settled),
            "all replicas updated and available"
        );
        let mut rolling = settled.clone();
        rolling.available = 0;
        assert!(may_have_failed(&rolling));
        let mut unseen = settled.clone();
        unseen.generation = 2;
        assert!(
            may_have_failed(&unseen),
            "the controller has not seen the spec"
        );
        let mut old_pods_left = settled.clone();
        old_pods_left.current = 2;
        assert!(may_have_failed(&old_pods_left));
        let mut sts = workload(WorkloadKind::StatefulSet, "shop", "db");
        sts.available = 0;
        assert!(!may_have_failed(&sts), "no progress deadline");
    }

    #[test]
    fn roots_compared_by_annotation() {
        let mut p = pod("shop", "cart-1", Some(("Deployment", "cart")), true);
        p.annotations = vec![kv(TRUST_ROOT_ANNOTATION, "abcdef0123456789")];
        assert_eq!(roots_differ("abcdef0123456789")(&p), None);
        assert_eq!(
            roots_differ("0000000000001111")(&p).as_deref(),
            Some("trust roots abcdef012345 not 000000000000")
        );
        p.annotations.clear();
        assert!(
            roots_differ("abcdef0123456789")(&p).is_some(),
            "no annotation: unknown roots"
        );
    }
}
