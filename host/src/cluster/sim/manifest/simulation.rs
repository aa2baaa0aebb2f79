//! The `rotor.dev/v1alpha1` `Simulation` document a scenario carries next
//! to its objects: the start time, virtual delays, traffic and the faults
//! to inject, with the defaults a scenario may leave out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `rotor.dev/v1alpha1` `Simulation` spec: timings, traffic, faults.
/// Unknown fields are refused so a typo does not silently change a run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulationSpec {
    /// RFC 3339; the virtual clock starts here.
    #[serde(default = "default_start_time")]
    pub start_time: String,
    #[serde(default)]
    pub timings: Timings,
    /// Nodes a DaemonSet schedules one pod on.
    #[serde(default = "default_nodes")]
    pub nodes: u32,
    /// Workload pairs that talk; `None`: every meshed workload with every other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Vec<TrafficPair>>,
    /// Workloads (`ns/Kind/name` or `ns/name`) whose new pods never become Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_ready: Vec<String>,
    /// The identity controller misses issuer Secret changes (linkerd2#15109).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identity_misses_reload: bool,
    /// The injector's default for pods that do not choose (Linkerd's chart
    /// value `proxy.nativeSidecar`, on by default since Linkerd 2.20): the
    /// proxy is injected as a native sidecar. A namespace or pod template
    /// annotation `config.linkerd.io/proxy-enable-native-sidecar` (or its
    /// older `config.beta.` / `config.alpha.` spellings) overrides it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native_sidecar: bool,
    /// The control plane's Linkerd version (`edge-25.12.1`, `stable-2.14.10`),
    /// written where Linkerd writes it: `linkerd-config`'s values, the
    /// control plane's `linkerd.io/created-by` and `linkerd.io/proxy-version`
    /// annotations, and the injector's `linkerd.io/proxy-version` on every
    /// pod it injects. Default [`DEFAULT_LINKERD_VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkerd_version: Option<String>,
    /// trust-manager's `--target-namespaces` (its chart's
    /// `app.targetNamespaces`): it writes bundle targets only in these
    /// namespaces. `None`: every namespace a bundle's selector matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_manager_target_namespaces: Option<Vec<String>>,
    /// Virtual seconds the simulator keeps watching after the policy returns:
    /// the mesh lives on after the Job exits, and a bundle sync or kubelet
    /// update the policy started still lands. Default: every sync delay,
    /// twice over, and at least five minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_run_seconds: Option<i64>,
    /// Certificates (`namespace/name`) whose next issuances fail, and how
    /// many: cert-manager reports `Issuing=False` (`Failed`) and the Secret
    /// keeps the old certificate. Saved state carries what is left.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fail_issuance: BTreeMap<String, u32>,
    /// API errors injected into the run's calls (seeded rates per primitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<crate::cluster::faults::FaultSpec>,
    /// The cluster this section of a multicluster scenario describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::ClusterSpec>,
    /// This cluster's gateway and its traffic to other clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicluster: Option<super::MulticlusterSpec>,
}

impl Default for SimulationSpec {
    fn default() -> Self {
        SimulationSpec {
            start_time: default_start_time(),
            timings: Timings::default(),
            nodes: default_nodes(),
            traffic: None,
            never_ready: Vec::new(),
            identity_misses_reload: false,
            native_sidecar: false,
            linkerd_version: None,
            trust_manager_target_namespaces: None,
            after_run_seconds: None,
            fail_issuance: BTreeMap::new(),
            faults: None,
            cluster: None,
            multicluster: None,
        }
    }
}

/// The version a scenario's control plane runs unless it says otherwise:
/// the one the standard setup's manifests carry (`standard.yaml`). Native
/// sidecars are off by default there, as in Linkerd before 2.20.
pub const DEFAULT_LINKERD_VERSION: &str = "edge-25.12.1";

impl SimulationSpec {
    /// The control plane's Linkerd version (see `linkerd_version`).
    pub fn linkerd_version(&self) -> &str {
        self.linkerd_version
            .as_deref()
            .unwrap_or(DEFAULT_LINKERD_VERSION)
    }

    /// How long to keep watching after the run (see `after_run_seconds`).
    pub fn after_run(&self) -> i64 {
        self.after_run_seconds.unwrap_or_else(|| {
            let t = &self.timings;
            let delays = t.issuance_seconds
                + t.bundle_sync_seconds
                + t.kubelet_sync_seconds
                + t.kubelet_sync_jitter_seconds
                + t.identity_reload_seconds
                + t.pod_start_seconds
                + t.pod_stop_seconds
                + t.crash_backoff_seconds;
            (2 * delays).max(300)
        })
    }
}

fn default_start_time() -> String {
    "2026-01-01T00:00:00Z".to_string()
}

fn default_nodes() -> u32 {
    3
}

/// One client -> server workload pair (`ns/Kind/name` or `ns/name`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPair {
    pub from: String,
    pub to: String,
}

/// Virtual durations, in seconds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timings {
    /// Pod creation to containers started.
    #[serde(default = "d_pod_start")]
    pub pod_start_seconds: i64,
    /// Deletion to the pod being gone.
    #[serde(default = "d_pod_stop")]
    pub pod_stop_seconds: i64,
    /// cert-manager: renewal trigger to the new Secret.
    #[serde(default = "d_issuance")]
    pub issuance_seconds: i64,
    /// trust-manager: source change to the target ConfigMap.
    #[serde(default = "d_bundle_sync")]
    pub bundle_sync_seconds: i64,
    /// kubelet: ConfigMap or Secret change to a running pod's mounted files
    /// (the least delay; each pod adds its own share of the jitter).
    #[serde(default = "d_kubelet_sync")]
    pub kubelet_sync_seconds: i64,
    /// kubelet: the most a pod's sync adds to `kubelet_sync_seconds`.
    #[serde(default = "d_kubelet_sync_jitter")]
    pub kubelet_sync_jitter_seconds: i64,
    /// identity: its mounted issuer files changing to the reload.
    #[serde(default = "d_identity_reload")]
    pub identity_reload_seconds: i64,
    /// A crash-looping identity container retries after this long.
    #[serde(default = "d_crash_backoff")]
    pub crash_backoff_seconds: i64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            pod_start_seconds: d_pod_start(),
            pod_stop_seconds: d_pod_stop(),
            issuance_seconds: d_issuance(),
            bundle_sync_seconds: d_bundle_sync(),
            kubelet_sync_seconds: d_kubelet_sync(),
            kubelet_sync_jitter_seconds: d_kubelet_sync_jitter(),
            identity_reload_seconds: d_identity_reload(),
            crash_backoff_seconds: d_crash_backoff(),
        }
    }
}

fn d_pod_start() -> i64 {
    10
}
fn d_pod_stop() -> i64 {
    5
}
fn d_issuance() -> i64 {
    5
}
fn d_bundle_sync() -> i64 {
    2
}
fn d_kubelet_sync() -> i64 {
    60
}
fn d_kubelet_sync_jitter() -> i64 {
    30
}
fn d_identity_reload() -> i64 {
    0
}
fn d_crash_backoff() -> i64 {
    30
}
