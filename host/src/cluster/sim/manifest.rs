//! The Kubernetes object shapes a scenario may hold, as serde types.
//!
//! Only the fields the simulator models are declared; everything else a
//! `kubectl get -o yaml` dump carries (managedFields, uid, ...) is ignored.
//! The same types serialise the state back out, so a dump loads again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
}

/// `maxSurge: 1` or `maxSurge: 25%`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(u32),
    Str(String),
}

impl IntOrPercent {
    /// Resolve against a replica count, rounding up or down as Kubernetes does.
    pub fn resolve(&self, total: u32, round_up: bool) -> Result<u32, String> {
        match self {
            IntOrPercent::Int(n) => Ok(*n),
            IntOrPercent::Str(s) => {
                let pct: u32 = s
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| format!("{s:?} is neither a number nor a percentage"))?;
                let scaled = u64::from(pct) * u64::from(total);
                let v = if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                Ok(v as u32)
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorExpression>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectorExpression {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector string form (`a=b,c in (x)`).
    pub fn to_selector_string(&self) -> Result<String, String> {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for e in &self.match_expressions {
            parts.push(match e.operator.as_str() {
                "In" => format!("{} in ({})", e.key, e.values.join(",")),
                "NotIn" => format!("{} notin ({})", e.key, e.values.join(",")),
                "Exists" => e.key.clone(),
                "DoesNotExist" => format!("!{}", e.key),
                other => {
                    return Err(format!(
                        "matchExpressions operator {other:?} (expected In, NotIn, Exists, DoesNotExist)"
                    ));
                }
            });
        }
        Ok(parts.join(","))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingParams>,
}

/// The spec of a Deployment, StatefulSet or DaemonSet (the union of fields).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_number_scheduled: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_number_scheduled: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_number_scheduled: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_ready: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_available: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<KubeCondition>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct WorkloadObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: WorkloadSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WorkloadStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<KubeCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PodObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NamespaceObject {
    #[serde(default)]
    pub metadata: Meta,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Base64, as the API returns it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ConfigMapObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ObjectName {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKeySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RenewalSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    pub issuer_ref: ObjectName,
    #[serde(default, rename = "isCA")]
    pub is_ca: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKeySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RenewalSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<KubeCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CertificateObject {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: CertificateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuerSpec {
    pub secret_name: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuerSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IssuerObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: IssuerSpec,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct KeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_c_as: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TargetKey {
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TargetKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleSpec {
    #[serde(default)]
    pub sources: Vec<BundleSource>,
    #[serde(default)]
    pub target: BundleTarget,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: BundleSpec,
}

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
            after_run_seconds: None,
            fail_issuance: BTreeMap::new(),
            faults: None,
        }
    }
}

impl SimulationSpec {
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

/// Go duration strings as cert-manager takes them (`48h`, `1h30m`, `90s`).
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("duration {s:?}: expected a Go duration such as \"48h\" or \"1h30m\"");
    let mut total: f64 = 0.0;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    if chars.peek().is_none() {
        return Err(bad());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total as i64)
}

/// Seconds as a Go duration (`48h0m0s`).
pub fn format_go_duration(secs: i64) -> String {
    format!("{}h{}m{}s", secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("48h").unwrap(), 48 * 3600);
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_go_duration("2160h0m0s").unwrap(), 2160 * 3600);
        assert_eq!(parse_go_duration("90s").unwrap(), 90);
        assert!(parse_go_duration("48").is_err());
        assert!(parse_go_duration("3d").is_err());
        assert!(parse_go_duration("").is_err());
        assert_eq!(
            parse_go_duration(&format_go_duration(25 * 3600 + 61)).unwrap(),
            25 * 3600 + 61
        );
    }

    #[test]
    fn percentages_round_like_kubernetes() {
        let p = IntOrPercent::Str("25%".into());
        assert_eq!(p.resolve(3, true).unwrap(), 1);
        assert_eq!(p.resolve(3, false).unwrap(), 0);
        assert_eq!(p.resolve(8, false).unwrap(), 2);
        assert_eq!(IntOrPercent::Int(2).resolve(10, true).unwrap(), 2);
        assert!(IntOrPercent::Str("x".into()).resolve(3, true).is_err());
    }
}
