//! Native sidecars: Linkerd's injector can add the proxy as an init
//! container with `restartPolicy: Always` (Kubernetes' native sidecar,
//! KEP-753) instead of a regular container. The kubelet then starts the app
//! only once the sidecar's startup probe passes, so a proxy that gets no
//! identity certificate holds its pod in Init (phase Pending) rather than
//! leaving it Running and unready, and the kubelet restarts it each time
//! the probe runs out. Gates must see such a pod and say why.
//!
//! Sources: the chart's `proxy.nativeSidecar` and `proxy.startupProbe`
//! values (`charts/linkerd-control-plane/values.yaml`) and the partial that
//! renders them (`charts/partials/templates/_proxy.tpl`: a startup probe on
//! `/ready`, 120 failures one second apart, and `restartPolicy: Always`);
//! the annotation `config.linkerd.io/proxy-enable-native-sidecar` (older
//! `config.beta.` / `config.alpha.` spellings) on a namespace or workload,
//! in Linkerd's proxy configuration reference; the kubelet's handling of
//! restartable init containers in Kubernetes' "Sidecar containers" concept
//! page (started in order, the next one waits for the startup probe, a
//! failed one restarts with the usual crash back-off).

use super::linkerd::PROXY_CONTAINER;
use super::manifest::Labels;
use super::world::{Ev, Pod, PodId, World};
use crate::linkerd::PROXY_STUCK_IN_INIT;

/// The annotation choosing native sidecars, newest spelling first.
const NATIVE_SIDECAR_ANNOTATIONS: [&str; 3] = [
    "config.linkerd.io/proxy-enable-native-sidecar",
    "config.beta.linkerd.io/proxy-enable-native-sidecar",
    "config.alpha.linkerd.io/proxy-enable-native-sidecar",
];

/// The injected startup probe's budget: `failureThreshold` 120 ×
/// `periodSeconds` 1, `initialDelaySeconds` 0 (the chart's defaults).
pub const STARTUP_PROBE_SECONDS: i64 = 120;

fn choice(annotations: &Labels) -> Option<bool> {
    NATIVE_SIDECAR_ANNOTATIONS
        .iter()
        .find_map(|k| annotations.get(*k))
        .map(|v| v == "true")
}

impl World {
    /// Whether the injector makes a pod's proxy a native sidecar: the pod's
    /// own annotation, else its namespace's, else the install's default
    /// (the Simulation's `nativeSidecar`, Linkerd's `proxy.nativeSidecar`).
    pub fn native_sidecar_wanted(&self, namespace: &str, pod_annotations: &Labels) -> bool {
        choice(pod_annotations)
            .or_else(|| {
                self.namespaces
                    .get(namespace)
                    .and_then(|n| choice(&n.annotations))
            })
            .unwrap_or(self.spec.native_sidecar)
    }

    /// The proxy sidecar (re)started: its startup probe has
    /// [`STARTUP_PROBE_SECONDS`] to see it Ready (`Ev::ProbeOut` then, for
    /// the sidecar's `n`-th start; `Ev::SidecarRestart` after the back-off).
    pub fn sidecar_probe_started(&mut self, pod: PodId) {
        let p = self.pod(pod);
        if !p.in_init {
            return;
        }
        let (uid, start) = (p.uid, p.sidecar_restarts);
        self.schedule(
            self.now + STARTUP_PROBE_SECONDS,
            Ev::ProbeOut { pod, uid, n: start },
        );
    }

    /// The proxy became Ready: the probe passes and the app starts.
    pub fn startup_probe_passed(&mut self, pod: PodId) {
        self.pod_mut(pod).in_init = false;
    }

    /// The startup probe of the `start`-th start ran out: the kubelet kills
    /// the sidecar and restarts it after the crash back-off.
    pub fn startup_probe_deadline(&mut self, pod: PodId, start: u32) {
        let p = self.pod(pod);
        if !p.in_init || p.terminating || p.sidecar_down || p.sidecar_restarts != start {
            return;
        }
        let backoff = self.crash_backoff(start);
        let p = self.pod_mut(pod);
        p.sidecar_down = true;
        p.sidecar_restarts += 1;
        // A new proxy process: certify attempts of the old one are void.
        p.leaf_gen += 1;
        let uid = p.uid;
        self.schedule(self.now + backoff, Ev::SidecarRestart { pod, uid });
    }

    /// The sidecar starts again, with the trust roots its pod was given
    /// (an env var fixed at admission), and asks for a certificate.
    pub fn sidecar_restart(&mut self, pod: PodId) {
        let p = self.pod_mut(pod);
        if !p.sidecar_down || p.terminating {
            return;
        }
        p.sidecar_down = false;
        self.sidecar_probe_started(pod);
        self.request_leaf(pod);
    }

    /// The answer to [`NOT_READY_KEY`](crate::linkerd::NOT_READY_KEY): a
    /// pod held in Init by a proxy sidecar the kubelet has restarted.
    pub fn not_ready_reason(&self, p: &Pod) -> Option<String> {
        let native = p.init_containers.iter().any(|c| c == PROXY_CONTAINER);
        if !native || !p.in_init || p.terminating || p.sidecar_restarts == 0 {
            return None;
        }
        let times = if p.sidecar_restarts == 1 {
            "time"
        } else {
            "times"
        };
        let why = match p.certify_error {
            Some(e) => format!("no identity certificate: {e}; "),
            None => String::new(),
        };
        Some(format!(
            "{PROXY_STUCK_IN_INIT} ({why}startup probe failed; restarted {} {times})",
            p.sidecar_restarts
        ))
    }
}
