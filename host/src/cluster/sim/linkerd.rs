//! Linkerd's trust mechanics: the injector's admission-time snapshot of the
//! trust roots, the identity controller (roots once at start, issuer reloads
//! that must verify, crash-loop on a bad issuer), and proxy leaves (24h,
//! clamped to the issuer chain, refreshed at 70%, rejected unless they chain
//! to the proxy's own roots).

use std::sync::Arc;

use crate::linkerd::CONTROL_PLANE_NS_LABEL;
use crate::wit::{EventType, ObjectRef, WorkloadKind};

use super::kubelet::mix;
use super::manifest::Labels;
use super::outage::RootsId;
use super::pki::{CertId, sha256_hex};
use super::world::{Ev, IdentityCtl, Leaf, Mesh, Namespace, PodId, World};

// The install's object names, from their one definition (`crate::linkerd`).
pub use crate::linkerd::{
    CONTROL_PLANE_NS, DESTINATION, IDENTITY, IDENTITY_ISSUER, INJECTOR, PREVIOUS_ANCHOR,
    PROXY_CONTAINER, TRUST_ANCHOR, TRUST_ANCHORS_ENV, TRUST_ROOT_SHA_ANNOTATION, TRUST_ROOTS,
    TRUST_ROOTS_KEY,
};
use rotor_trust_lint::version::PROXY_VERSION_ANNOTATION;

/// Leaf lifetime before clamping to the issuer.
const LEAF_LIFETIME: i64 = 24 * 3600;
/// The proxy's least wait between certify attempts (its default
/// `LINKERD2_PROXY_IDENTITY_MIN_REFRESH`).
const MIN_REFRESH: i64 = 10;
/// The kubelet's cap on a crash-looping container's back-off.
const MAX_CRASH_BACKOFF: i64 = 300;

/// How Linkerd decides whether a pod gets a proxy: the namespace or the pod
/// template says `linkerd.io/inject: enabled|ingress`; `disabled` on the
/// template wins. Control-plane pods carry the proxy from the chart.
pub fn mesh_for(
    namespace: &str,
    ns: Option<&Namespace>,
    template_annotations: &Labels,
    containers: &[String],
) -> Mesh {
    if namespace == CONTROL_PLANE_NS {
        return Mesh::ControlPlane;
    }
    if containers.iter().any(|c| c == PROXY_CONTAINER) {
        return Mesh::Injected;
    }
    let on = |v: Option<&String>| v.is_some_and(|v| v == "enabled" || v == "ingress");
    match template_annotations.get("linkerd.io/inject") {
        Some(v) if v == "disabled" => Mesh::Off,
        v if on(v) => Mesh::Injected,
        _ => {
            if on(ns.and_then(|n| n.annotations.get("linkerd.io/inject"))) {
                Mesh::Injected
            } else {
                Mesh::Off
            }
        }
    }
}

/// The injector's settings for one pod: its Linkerd version, stamped as
/// `linkerd.io/proxy-version` (`injectObjectMeta`, `pkg/inject/inject.go`:
/// the proxy image's version, by default the chart's `linkerdVersion`), and
/// whether the proxy goes in as a native sidecar.
#[derive(Debug, Clone, Copy)]
pub struct Injection<'a> {
    pub version: &'a str,
    pub native: bool,
}

/// What the injector adds to a pod: the Linkerd labels and annotations and
/// the `linkerd-proxy` container (an init container when `native`, see
/// [`native_sidecar_wanted`](super::sidecar::native_sidecar_wanted)).
pub fn inject_fields(
    namespace: &str,
    owner: Option<(WorkloadKind, &str)>,
    labels: &mut Labels,
    annotations: &mut Labels,
    containers: &mut Vec<String>,
    init_containers: &mut Vec<String>,
    injection: Injection<'_>,
) {
    let native = injection.native;
    labels.insert(CONTROL_PLANE_NS_LABEL.into(), CONTROL_PLANE_NS.into());
    labels.insert("linkerd.io/workload-ns".into(), namespace.into());
    if let Some((kind, name)) = owner {
        let key = match kind {
            WorkloadKind::Deployment => "linkerd.io/proxy-deployment",
            WorkloadKind::StatefulSet => "linkerd.io/proxy-statefulset",
            WorkloadKind::DaemonSet => "linkerd.io/proxy-daemonset",
        };
        labels.insert(key.into(), name.into());
    }
    annotations.insert(PROXY_VERSION_ANNOTATION.into(), injection.version.into());
    let has_proxy = containers
        .iter()
        .chain(init_containers.iter())
        .any(|c| c == PROXY_CONTAINER);
    if !has_proxy {
        if native {
            init_containers.push(PROXY_CONTAINER.into());
        } else {
            containers.insert(0, PROXY_CONTAINER.into());
        }
    }
}

impl World {
    /// The control-plane Deployment of that name (cached once workloads are loaded).
    pub fn control_plane_workload(&self, name: &str) -> Option<usize> {
        match (name, self.control_plane_ids) {
            (IDENTITY, Some((identity, _))) => identity,
            (INJECTOR, Some((_, injector))) => injector,
            _ => self.find_workload(WorkloadKind::Deployment, CONTROL_PLANE_NS, name),
        }
    }

    pub fn cache_control_plane_ids(&mut self) {
        self.control_plane_ids = Some((
            self.find_workload(WorkloadKind::Deployment, CONTROL_PLANE_NS, IDENTITY),
            self.find_workload(WorkloadKind::Deployment, CONTROL_PLANE_NS, INJECTOR),
        ));
    }

    pub fn is_identity_pod(&self, pod: PodId) -> bool {
        let owner = self.pod(pod).owner;
        owner.is_some() && owner == self.control_plane_workload(IDENTITY)
    }

    /// The trust-roots ConfigMap's content now.
    pub fn current_roots_pem(&self) -> Arc<str> {
        self.config_maps
            .get(&(CONTROL_PLANE_NS.to_string(), TRUST_ROOTS.to_string()))
            .and_then(|c| c.data.get(TRUST_ROOTS_KEY).cloned())
            .unwrap_or_else(|| Arc::from(""))
    }

    pub fn roots_for_pem(&mut self, pem: &Arc<str>) -> RootsId {
        if let Some(&id) = self.roots_by_pem.get(pem) {
            return id;
        }
        let mut anchors: Vec<CertId> = self.pki.intern_pem(pem).unwrap_or_default();
        anchors.sort_unstable();
        anchors.dedup();
        let id = self.outage.intern_roots(anchors);
        self.roots_by_pem.insert(pem.clone(), id);
        id
    }

    /// What the injector replica admitting the pod with `uid` has in its
    /// mounted copy of the bundle: each change reaches each replica after
    /// its own kubelet delay, and a replica that started after a change
    /// read it at start. Admissions spread over the Ready replicas.
    fn injector_roots_pem(&self, uid: u64) -> Arc<str> {
        let replicas: Vec<(u64, i64)> = self
            .control_plane_workload(INJECTOR)
            .map(|wl| {
                self.workloads[wl]
                    .pods
                    .iter()
                    .map(|&p| self.pod(p))
                    .filter(|p| p.active() && p.ready)
                    .filter_map(|p| Some((p.uid, p.start_time?)))
                    .collect()
            })
            .unwrap_or_default();
        let seen = |replica: Option<(u64, i64)>, change: usize, at: i64| match replica {
            Some((r, started)) => {
                at <= started || at + self.volume_delay(r, change as u64) <= self.now
            }
            None => at + self.spec.timings.kubelet_sync_seconds <= self.now,
        };
        let replica = (!replicas.is_empty())
            .then(|| replicas[(mix(uid, self.now as u64) % replicas.len() as u64) as usize]);
        let newest = self
            .roots_history
            .iter()
            .enumerate()
            .rev()
            .find(|(i, (at, _))| seen(replica, *i, *at));
        match newest.or_else(|| self.roots_history.first().map(|h| (0, h))) {
            Some((_, (_, pem))) => pem.clone(),
            None => self.current_roots_pem(),
        }
    }

    /// Give a proxy its roots. An injected proxy's annotation says which
    /// (the injector hashes what it writes); a control-plane pod's is the
    /// chart's install-time value and stays as it is (`annotate: false`).
    fn set_proxy_roots(&mut self, pod: PodId, pem: Arc<str>, annotate: bool) {
        // Admissions mostly share one bundle text: remember the last one.
        let (roots, sha) = match &self.last_roots {
            Some((last, roots, sha)) if Arc::ptr_eq(last, &pem) => (*roots, sha.clone()),
            _ => {
                let roots = self.roots_for_pem(&pem);
                let sha = sha256_hex(pem.as_bytes());
                self.last_roots = Some((pem.clone(), roots, sha.clone()));
                (roots, sha)
            }
        };
        let p = self.pod_mut(pod);
        p.roots = Some(roots);
        p.roots_pem = Some(pem);
        if !annotate || p.annotations.get(TRUST_ROOT_SHA_ANNOTATION) == Some(&sha) {
            return;
        }
        // Pods of one revision admitted with the same roots share annotations.
        let (owner, hash) = (p.owner, p.template_hash.clone());
        let shared = owner.and_then(|wl| {
            let parts = self.workloads[wl].pod_parts.as_mut()?;
            let p = self.pods[pod].as_ref()?;
            if parts.hash != hash || !Arc::ptr_eq(&parts.annotations, &p.annotations) {
                return None;
            }
            match &parts.with_roots {
                Some((s, a)) if *s == sha => Some(a.clone()),
                _ => {
                    let mut a = (*parts.annotations).clone();
                    a.insert(TRUST_ROOT_SHA_ANNOTATION.to_string(), sha.clone());
                    let a = Arc::new(a);
                    parts.with_roots = Some((sha.clone(), a.clone()));
                    Some(a)
                }
            }
        });
        let p = self.pod_mut(pod);
        match shared {
            Some(a) => p.annotations = a,
            None => {
                Arc::make_mut(&mut p.annotations)
                    .insert(TRUST_ROOT_SHA_ANNOTATION.to_string(), sha);
            }
        }
    }

    /// Admission: the injector adds the proxy and writes the trust roots inline.
    pub fn admit(&mut self, pod: PodId) {
        let mesh = self.pod(pod).mesh;
        if mesh == Mesh::Off {
            return;
        }
        let owner = self.pod(pod).owner.map(|wl| {
            let w = &self.workloads[wl];
            (w.kind, w.name.clone())
        });
        let p = self.pod_mut(pod);
        let injected = p.labels.contains_key(CONTROL_PLANE_NS_LABEL)
            && p.annotations.contains_key(PROXY_VERSION_ANNOTATION)
            && (p.containers.iter().chain(p.init_containers.iter())).any(|c| c == PROXY_CONTAINER);
        if !injected {
            let ns = p.namespace.clone();
            let asked = p.annotations.clone();
            let native = self.native_sidecar_wanted(&ns, &asked);
            let version = self.spec.linkerd_version().to_string();
            let p = self.pod_mut(pod);
            inject_fields(
                &ns,
                owner.as_ref().map(|(k, n)| (*k, n.as_str())),
                Arc::make_mut(&mut p.labels),
                Arc::make_mut(&mut p.annotations),
                Arc::make_mut(&mut p.containers),
                Arc::make_mut(&mut p.init_containers),
                Injection {
                    version: &version,
                    native,
                },
            );
        }
        let p = self.pod_mut(pod);
        p.in_init = p.init_containers.iter().any(|c| c == PROXY_CONTAINER);
        if mesh == Mesh::Injected {
            // The webhook skips a pod that already has a proxy
            // (`sidecarExists`, `pkg/inject/report.go`): its roots are the template's.
            let owner = self.pod(pod).owner;
            match owner.and_then(|wl| self.workloads[wl].pre_injected_roots.clone()) {
                Some(pem) => self.set_proxy_roots(pod, pem, false),
                None => {
                    let pem = self.injector_roots_pem(self.pod(pod).uid);
                    self.set_proxy_roots(pod, pem, true);
                }
            }
        }
    }

    /// Containers started: control-plane proxies read the roots now (an
    /// env var from the ConfigMap, resolved at container start); the
    /// identity controller starts; every proxy asks for its first leaf.
    pub fn proxy_started(&mut self, pod: PodId) {
        if self.pod(pod).mesh == Mesh::ControlPlane {
            let pem = self.current_roots_pem();
            self.set_proxy_roots(pod, pem, false);
        }
        if self.is_identity_pod(pod) {
            self.identity_start(pod);
        }
        self.sidecar_probe_started(pod);
        self.request_leaf(pod);
    }

    fn issuer_in_secret(&mut self) -> Option<CertId> {
        let pem = self
            .secrets
            .get(&(CONTROL_PLANE_NS.to_string(), IDENTITY_ISSUER.to_string()))?
            .data
            .get("tls.crt")?
            .clone();
        let pem = String::from_utf8_lossy(&pem).into_owned();
        self.pki.intern_pem(&pem).ok()?.first().copied()
    }

    /// Whether an issuer chains to a roots set and is valid now.
    fn issuer_verifies(&self, issuer: CertId, roots: RootsId) -> bool {
        let info = self.pki.get(issuer);
        if !info.valid_at(self.now) {
            return false;
        }
        let anchor = self.pki.anchor_of(issuer);
        anchor != issuer
            && self.pki.get(anchor).valid_at(self.now)
            && self.outage.roots(roots).contains(&anchor)
    }

    fn identity_start(&mut self, pod: PodId) {
        let pem = self.current_roots_pem();
        let roots = self.roots_for_pem(&pem);
        let issuer = self
            .issuer_in_secret()
            .filter(|&i| self.issuer_verifies(i, roots));
        self.pod_mut(pod).identity = Some(IdentityCtl { roots, issuer });
        if issuer.is_none() {
            self.schedule_container_restart(pod);
        }
    }

    /// The kubelet restarts a crashed container after a back-off that
    /// doubles with each crash from crashBackoffSeconds up to five minutes
    /// (kubelet `MaxContainerBackOff`, `pkg/kubelet/kubelet.go`).
    pub fn schedule_container_restart(&mut self, pod: PodId) {
        let backoff = self.crash_backoff(self.pod(pod).crashes);
        let p = self.pod_mut(pod);
        p.crashes += 1;
        let (uid, at) = (p.uid, self.now + backoff);
        self.schedule(at, Ev::IdentityRetry { pod, uid });
    }

    /// The kubelet's wait before restarting a container that failed
    /// `failures` times before.
    pub fn crash_backoff(&self, failures: u32) -> i64 {
        let base = self.spec.timings.crash_backoff_seconds.max(1);
        base.saturating_mul(1 << failures.min(16))
            .min(MAX_CRASH_BACKOFF)
    }

    /// A crash-looping identity container starts again.
    pub fn identity_restart_container(&mut self, pod: PodId) {
        let p = self.pod(pod);
        if p.terminating || !matches!(p.identity, Some(IdentityCtl { issuer: None, .. })) {
            return;
        }
        self.identity_start(pod);
        if self.pod(pod).identity.is_some_and(|c| c.issuer.is_some()) {
            self.request_leaf(pod);
        }
    }

    fn identity_ref() -> ObjectRef {
        ObjectRef {
            kind: "Deployment".into(),
            namespace: CONTROL_PLANE_NS.into(),
            name: IDENTITY.into(),
        }
    }

    /// The issuer Secret changed: each identity replica's kubelet writes the
    /// new files at its own next sync, and identity reloads on the write
    /// (fsnotify on the volume's `..data`, `pkg/tls/creds_watcher.go`).
    pub fn issuer_secret_changed(&mut self) {
        if self.spec.identity_misses_reload {
            return;
        }
        let change = self.resource_version;
        let pods: Vec<(PodId, u64)> = self
            .control_plane_workload(IDENTITY)
            .map(|wl| {
                self.workloads[wl]
                    .pods
                    .iter()
                    .map(|&p| (p, self.pod(p)))
                    .filter(|(_, p)| p.active() && p.identity.is_some_and(|c| c.issuer.is_some()))
                    .map(|(id, p)| (id, p.uid))
                    .collect()
            })
            .unwrap_or_default();
        for (pod, uid) in pods {
            let at = self.now
                + self.volume_delay(uid, change)
                + self.spec.timings.identity_reload_seconds;
            self.schedule(at, Ev::IdentityReload { pod, uid });
        }
    }

    /// One identity replica sees its issuer files change. It reloads and
    /// reports on every change, even to the issuer it already has
    /// (`Service.Run`, `pkg/identity/service.go`); each replica reports as
    /// its own Event, since each has its own event recorder.
    pub fn identity_reload(&mut self, pod: PodId) {
        let Some(ctl) = self.pod(pod).identity else {
            return;
        };
        if ctl.issuer.is_none() {
            return;
        }
        let Some(new) = self.issuer_in_secret() else {
            return;
        };
        let emitter = self.pod(pod).uid;
        if self.issuer_verifies(new, ctl.roots) {
            self.pod_mut(pod).identity = Some(IdentityCtl {
                roots: ctl.roots,
                issuer: Some(new),
            });
            self.record_event_from(
                emitter,
                Self::identity_ref(),
                EventType::Normal,
                "IssuerUpdated",
                "Updated identity issuer",
                IDENTITY,
            );
        } else {
            self.record_event_from(
                emitter,
                Self::identity_ref(),
                EventType::Warning,
                "IssuerUpdateSkipped",
                "Skipping issuer update as certs could not be read from disk: failed to verify \
                 issuer credentials for 'identity.linkerd.cluster.local' with trust anchors: \
                 x509: certificate signed by unknown authority",
                IDENTITY,
            );
        }
    }

    /// The issuer a proxy gets a leaf from, if the identity replica its
    /// request reaches will serve it. Requests spread over the Ready
    /// replicas; the proxy checks identity's server certificate against its
    /// own roots, and presents its current leaf, which identity's proxy
    /// checks against its roots (`linkerd/app/src/identity.rs` in the
    /// proxy: the client is built with the proxy's current credentials).
    fn leaf_source(&mut self, pod: PodId) -> Result<CertId, &'static str> {
        const NO_ISSUER: &str = "identity has no valid issuer";
        let roots = self.pod(pod).roots.ok_or("the proxy has no trust roots")?;
        if self.is_identity_pod(pod) {
            return self
                .pod(pod)
                .identity
                .and_then(|c| c.issuer)
                .ok_or(NO_ISSUER);
        }
        let unreachable = "no identity replica is Ready";
        let wl = self.control_plane_workload(IDENTITY).ok_or(unreachable)?;
        let (uid, presented) = {
            let p = self.pod(pod);
            (p.uid, p.leaf.filter(|_| !p.leaf_expired).map(|l| l.anchor))
        };
        let replicas: Vec<PodId> = self.workloads[wl]
            .pods
            .iter()
            .copied()
            .filter(|&p| {
                let p = self.pod(p);
                p.active() && p.ready && !p.leaf_expired && p.identity.is_some()
            })
            .collect();
        if replicas.is_empty() {
            return Err(unreachable);
        }
        let chosen =
            self.pod(replicas[(mix(uid, self.now as u64) % replicas.len() as u64) as usize]);
        let server_trusted = chosen
            .leaf
            .is_some_and(|l| self.outage.roots(roots).contains(&l.anchor));
        let client_trusted = match (presented, chosen.roots) {
            (Some(anchor), Some(theirs)) => self.outage.roots(theirs).contains(&anchor),
            (None, _) => true,
            (Some(_), None) => false,
        };
        let issuer = chosen.identity.and_then(|c| c.issuer);
        if !server_trusted {
            return Err("identity's certificate does not chain to the proxy's trust roots");
        }
        if !client_trusted {
            return Err("identity does not trust the proxy's current certificate");
        }
        let issuer = issuer.ok_or(NO_ISSUER)?;
        if !self.pki.get(issuer).valid_at(self.now) {
            self.record_event(
                Self::identity_ref(),
                EventType::Warning,
                "IssuerValidationFailed",
                "Issuer certificate has expired",
                IDENTITY,
            );
            return Err("the identity issuer has expired");
        }
        Ok(issuer)
    }

    /// Ask identity for a (new) leaf; the proxy keeps it only if it chains to
    /// its own roots. Without one the pod stays (or goes) unready and waits.
    pub fn request_leaf(&mut self, pod: PodId) {
        self.request_leaf_issued(pod, self.now);
    }

    /// As [`request_leaf`](Self::request_leaf), for a leaf issued at
    /// `issued_at` (a loaded mesh's leaves are of different ages).
    pub fn request_leaf_issued(&mut self, pod: PodId, issued_at: i64) {
        let p = self.pod(pod);
        if p.terminating || !p.running || p.sidecar_down || p.mesh == Mesh::Off {
            return;
        }
        if p.never_ready {
            return;
        }
        let Some(roots) = p.roots else { return };
        let issued = self.leaf_source(pod).and_then(|issuer| {
            let anchor = self.pki.anchor_of(issuer);
            if anchor == issuer || !self.outage.roots(roots).contains(&anchor) {
                return Err("the identity issuer does not chain to the proxy's trust roots");
            }
            // Clamped to the issuer only: identity does not look at the anchor's end.
            let not_after = (issued_at + LEAF_LIFETIME).min(self.pki.get(issuer).not_after);
            (not_after > self.now)
                .then_some(Leaf {
                    issuer,
                    anchor,
                    not_after,
                })
                .ok_or("the identity issuer has expired")
        });
        let leaf = match issued {
            Ok(leaf) => leaf,
            Err(why) => {
                self.pod_mut(pod).certify_error = Some(why);
                self.schedule_certify_retry(pod);
                return;
            }
        };
        self.pod_mut(pod).certify_error = None;
        self.install_leaf(pod, leaf, issued_at);
        let identity_ok = !self.is_identity_pod(pod)
            || self.pod(pod).identity.is_some_and(|c| c.issuer.is_some());
        self.set_ready(pod, identity_ok);
        if identity_ok {
            self.startup_probe_passed(pod);
        }
    }

    /// Give a proxy a leaf and schedule its refresh at 70% of its life.
    pub fn install_leaf(&mut self, pod: PodId, leaf: Leaf, issued_at: i64) {
        let now = self.now;
        let p = self.pod_mut(pod);
        p.leaf = Some(leaf);
        p.leaf_set_at = issued_at;
        p.leaf_gen += 1;
        p.leaf_expired = leaf.not_after <= now;
        let (uid, leaf_gen) = (p.uid, p.leaf_gen);
        let refresh = (issued_at
            + ((leaf.not_after - issued_at) * 7 / 10).clamp(10, LEAF_LIFETIME))
        .max(now + 1);
        self.schedule(refresh, Ev::LeafRefresh { pod, uid, leaf_gen });
        if refresh >= leaf.not_after {
            self.watch_expiry(pod);
        }
        self.update_contrib(pod);
    }

    /// A leaf that may not be replaced in time: mark the proxy broken when it ends.
    fn watch_expiry(&mut self, pod: PodId) {
        let p = self.pod_mut(pod);
        let Some(leaf) = p.leaf else { return };
        if p.expiry_watch == p.leaf_gen || p.leaf_expired {
            return;
        }
        p.expiry_watch = p.leaf_gen;
        let (uid, leaf_gen) = (p.uid, p.leaf_gen);
        self.schedule(leaf.not_after, Ev::LeafExpiry { pod, uid, leaf_gen });
    }

    /// A certify call failed: the proxy keeps what it has and tries again at
    /// 70 % of its current leaf's remaining life, or after the minimum
    /// refresh (10 s) when it has none or it has expired (`refresh_in`,
    /// `identity-client/src/certify.rs`). Nothing else wakes it: it does not
    /// notice identity recovering.
    pub fn schedule_certify_retry(&mut self, pod: PodId) {
        let now = self.now;
        let p = self.pod(pod);
        let (uid, leaf_gen) = (p.uid, p.leaf_gen);
        let wait = match p.leaf.filter(|l| !p.leaf_expired && l.not_after > now) {
            Some(l) => ((l.not_after - now) * 7 / 10).clamp(MIN_REFRESH, LEAF_LIFETIME),
            None => MIN_REFRESH,
        };
        self.watch_expiry(pod);
        self.schedule(now + wait, Ev::LeafRefresh { pod, uid, leaf_gen });
    }
}
