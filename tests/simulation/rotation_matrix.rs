//! The default policy against every scenario in `tests/scenarios/`, through
//! the real runtime and the built component, judged by what a user would
//! notice: did the run succeed, did any meshed call fail, and is the mesh
//! left on the new anchor alone. Plus the blog script's order on the demo,
//! which the simulator must show breaking traffic.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::{GUESTS_DIR, LoadedPolicy, RunControls};
use support::runtime;

const TRUST_ROOTS: (&str, &str) = ("linkerd", "linkerd-identity-trust-roots");
const TRUST_ROOTS_KEY: &str = "ca-bundle.crt";
pub(crate) const TRUST_ROOT_ANNOTATION: &str = "linkerd.io/trust-root-sha256";
pub(crate) const MESHED: &str = "linkerd.io/control-plane-ns=linkerd";

/// A built fixture policy, loaded once per test binary.
fn fixture(slot: &'static OnceLock<LoadedPolicy>, file: &str) -> &'static LoadedPolicy {
    slot.get_or_init(|| {
        let wasm = std::fs::read(Path::new(GUESTS_DIR).join(file))
            .unwrap_or_else(|e| panic!("{file} built: {e}"));
        runtime().load(file, &wasm).expect("loads")
    })
}

fn blog_order() -> &'static LoadedPolicy {
    static POLICY: OnceLock<LoadedPolicy> = OnceLock::new();
    fixture(&POLICY, "blog_order.wasm")
}

fn first_reload() -> &'static LoadedPolicy {
    static POLICY: OnceLock<LoadedPolicy> = OnceLock::new();
    fixture(&POLICY, "first_reload.wasm")
}

pub(crate) fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

pub(crate) fn load(scenario: &str) -> Arc<SimCluster> {
    let path = scenarios_dir().join(scenario);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let cluster =
        SimCluster::from_yaml(&text).unwrap_or_else(|e| panic!("{scenario} does not load: {e}"));
    Arc::new(cluster)
}

/// One run with the default configuration; the report as `rotor simulate`
/// builds it.
pub(crate) async fn run(policy: &LoadedPolicy, cluster: &Arc<SimCluster>) -> RunReport {
    run_with(policy, cluster, &RunConfig::default()).await
}

/// The run configuration the scenario's `Expect` document gives (inline),
/// else the default: what `rotor test` would run it with.
pub(crate) fn scenario_config(scenario: &str) -> RunConfig {
    let path = scenarios_dir().join(scenario);
    let text = std::fs::read_to_string(&path).expect("scenario reads");
    let expect = rotor::commands::test::find_expect(&text).unwrap_or_else(|e| panic!("{e}"));
    match expect.and_then(|(_, e)| e.config) {
        Some(config) => {
            let yaml = serde_norway::to_string(&config).expect("config is YAML");
            RunConfig::parse(&yaml, &path).unwrap_or_else(|e| panic!("{scenario}: {e}"))
        }
        None => RunConfig::default(),
    }
}

/// The run succeeded; else its error, named with the scenario.
pub(crate) fn assert_succeeded(report: &RunReport, scenario: &str) {
    assert_eq!(
        report.outcome,
        Outcome::Succeeded,
        "{scenario}: {}",
        error_text(report)
    );
}

pub(crate) async fn run_with(
    policy: &LoadedPolicy,
    cluster: &Arc<SimCluster>,
    config: &RunConfig,
) -> RunReport {
    let backend: Arc<dyn Cluster> = cluster.clone();
    let outcome = runtime()
        .run(policy, backend, config, RunControls::default())
        .await;
    cluster.watch_after_run();
    RunReport::new(
        outcome,
        policy,
        cluster.backend(),
        false,
        Some(cluster.simulation_report()),
    )
}

/// The anchor certificate (PEM) the anchor Secret holds now.
pub(crate) async fn anchor_pem(cluster: &SimCluster) -> String {
    String::from_utf8(support::anchor_pem(cluster).await).expect("PEM is text")
}

/// The trust-roots bundle identity and the proxies read.
pub(crate) async fn bundle_pem(cluster: &SimCluster) -> String {
    let cm = cluster
        .read_config_map(TRUST_ROOTS.0, TRUST_ROOTS.1)
        .await
        .expect("trust-roots ConfigMap");
    cm.data
        .into_iter()
        .find(|kv| kv.key == TRUST_ROOTS_KEY)
        .map(|kv| kv.value)
        .expect("trust-roots ConfigMap has ca-bundle.crt")
}

/// Base64 body of each certificate in a PEM text, so comparisons ignore
/// line endings and surrounding whitespace.
fn pem_bodies(pem: &str) -> Vec<String> {
    pem.split("-----END CERTIFICATE-----")
        .filter_map(|block| {
            let body = block.split("-----BEGIN CERTIFICATE-----").nth(1)?;
            Some(body.split_whitespace().collect::<String>())
        })
        .collect()
}

pub(crate) fn holds(bundle: &str, anchor: &str) -> bool {
    let anchor = pem_bodies(anchor);
    assert_eq!(anchor.len(), 1, "one anchor certificate: {anchor:?}");
    pem_bodies(bundle).contains(&anchor[0])
}

pub(crate) fn error_text(report: &RunReport) -> String {
    let mut text = report.error.clone().unwrap_or_default();
    for step in &report.steps {
        text.push('\n');
        text.push_str(&step.detail);
    }
    text
}

/// What a user expects of the default policy on `scenario`: success, no
/// failed meshed call, and a mesh that trusts only the new anchor.
async fn rotates_without_outage(scenario: &str) {
    let cluster = load(scenario);
    let old_anchor = anchor_pem(&cluster).await;
    let config = scenario_config(scenario);
    // A staged anchor ends on a pair: the new anchor and the next one.
    let staged = config
        .policy
        .as_ref()
        .is_some_and(|p| p["mode"] == "staged");
    let report = run_with(support::policy(), &cluster, &config).await;
    assert_succeeded(&report, scenario);
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(
        sim.outage.broken_pair_seconds, 0.0,
        "{scenario}: meshed calls failed: {:?}",
        sim.outage.windows
    );
    assert!(sim.outage.windows.is_empty(), "{scenario}");
    assert!(
        sim.after_run_seconds > 0,
        "{scenario}: the mesh is watched after the run"
    );
    assert!(
        sim.pods_never_ready.is_empty(),
        "{scenario}: {:?}",
        sim.pods_never_ready
    );
    let f = &sim.final_state;
    assert!(f.anchor_rotated, "{scenario}: anchor not rotated");
    assert!(f.issuer_rotated, "{scenario}: issuer not rotated");
    assert_eq!(
        f.bundle_anchors,
        1 + usize::from(staged),
        "{scenario}: {f:?}"
    );
    assert_eq!(f.proxies_trusting_retired_anchor, 0, "{scenario}: {f:?}");
    assert_eq!(f.proxies_with_retired_chain_leaf, 0, "{scenario}: {f:?}");
    assert!(f.workloads_not_ready.is_empty(), "{scenario}: {f:?}");
    assert!(
        f.private_key_copies.is_empty(),
        "{scenario}: a private key outside cert-manager's Secrets: {f:?}"
    );

    // The old anchor is gone from the bundle, the new one is in it.
    let bundle = bundle_pem(&cluster).await;
    let new_anchor = anchor_pem(&cluster).await;
    assert!(!holds(&bundle, &old_anchor), "{scenario}: old anchor kept");
    assert!(
        holds(&bundle, &new_anchor),
        "{scenario}: new anchor missing"
    );
}

macro_rules! rotates_without_outage {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                rotates_without_outage($file).await;
            }
        )*

        /// Scenarios this file runs (never-ready, pre-injected, the native
        /// sidecar held in Init and the lint's have their own tests).
        const COVERED: &[&str] = &[
            $($file,)*
            "never-ready.yaml",
            "pre-injected.yaml",
            PREFLIGHT_REFUSALS[0].0,
            PREFLIGHT_REFUSALS[1].0,
            PREFLIGHT_REFUSALS[2].0,
            PREFLIGHT_REFUSALS[3].0,
            PREFLIGHT_REFUSALS[4].0,
            PREFLIGHT_REFUSALS[5].0,
            "native-sidecar-stuck-in-init.yaml",
            "unowned-report.yaml",
        ];
    };
}

rotates_without_outage! {
    demo_rotates_without_outage => "demo.yaml",
    fifty_namespaces_rotate_without_outage => "fifty-namespaces.yaml",
    twenty_namespaces_with_statefulsets_and_daemonsets_rotate_without_outage => "twenty-namespaces.yaml",
    statefulset_ondelete_rotates_without_outage => "statefulset-ondelete.yaml",
    daemonsets_rotate_without_outage => "daemonset.yaml",
    pod_level_injection_rotates_without_outage => "pod-level-injection.yaml",
    ingress_injection_rotates_without_outage => "ingress-injection.yaml",
    slow_cert_manager_rotates_without_outage => "slow-cert-manager.yaml",
    slow_sync_rotates_without_outage => "slow-sync.yaml",
    identity_missing_the_reload_rotates_without_outage => "identity-misses-reload.yaml",
    ha_identity_rotates_without_outage => "ha-identity.yaml",
    native_sidecars_rotate_without_outage => "native-sidecars.yaml",
    pods_of_custom_owners_and_bare_pods_deleted_one_by_one_rotate_without_outage => "unowned-delete-pods.yaml",
    a_cluster_bundle_rotates_without_outage => "cluster-bundle.yaml",
    an_argo_rollout_restarting_its_own_pods_rotates_without_outage => "unowned-argo-rollouts.yaml",
    a_strimzi_pod_set_rolled_by_its_operator_rotates_without_outage => "unowned-strimzi.yaml",
    without_trust_manager_rotor_writes_the_bundle_and_rotates_without_outage => "no-trust-manager.yaml",
    a_staged_anchor_rotates_without_outage => "staged-anchor.yaml",
}

/// A scenario added to the directory must be added here too.
#[test]
fn every_scenario_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("tests/scenarios")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut covered: Vec<String> = COVERED.iter().map(|s| s.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered);
}

/// New pods of shop/cart never become Ready: the policy stops before any
/// destructive step, names the workload, and keeps the old anchor trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_ready_stops_safely_and_keeps_the_old_anchor() {
    let cluster = load("never-ready.yaml");
    let old_anchor = anchor_pem(&cluster).await;
    let report = run(support::policy(), &cluster).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    let error = report.error.clone().expect("a failed run says why");
    assert!(error.contains("shop/cart"), "{error}");

    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(
        sim.outage.broken_pair_seconds, 0.0,
        "{:?}",
        sim.outage.windows
    );
    assert!(
        sim.pods_never_ready
            .iter()
            .any(|pod| pod.starts_with("shop/cart-")),
        "{:?}",
        sim.pods_never_ready
    );
    let f = &sim.final_state;
    assert_eq!(f.bundle_anchors, 2, "both anchors stay trusted: {f:?}");
    assert!(!f.issuer_rotated, "no issuer signed by the new anchor yet");
    assert!(f.workloads_not_ready.is_empty(), "old pods keep serving");
    assert!(holds(&bundle_pem(&cluster).await, &old_anchor));
    // Nothing breaks after the run either: the report watched the mesh on.
    assert!(sim.after_run_seconds >= 300, "{sim:?}");
}

/// New pods of shop/cart, native sidecars, never get a Ready proxy: the
/// rollout gate stops the run within minutes (not at the rollout deadline),
/// naming the pod held in Init, and nothing breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_sidecar_held_in_init_stops_the_run_naming_the_pod() {
    let cluster = load("native-sidecar-stuck-in-init.yaml");
    let started = cluster.now().await;
    let report = run(support::policy(), &cluster).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    let error = report.error.clone().expect("a failed run says why");
    assert!(
        error
            .contains(": proxy sidecar not ready in Init (startup probe failed; restarted 1 time)")
            && error.contains("shop/cart-"),
        "{error}"
    );
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(
        sim.outage.broken_pair_seconds, 0.0,
        "{:?}",
        sim.outage.windows
    );
    let f = &sim.final_state;
    assert_eq!(f.bundle_anchors, 2, "both anchors stay trusted: {f:?}");
    assert!(!f.issuer_rotated, "{f:?}");
    // The cart wave was stopped at the first check after the sidecar's
    // first restart, well before the wave's rollout deadline.
    let waited: i64 = error
        .split("after ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("the gate says how long it waited");
    assert!(waited <= 240, "{error}");
    assert!(cluster.now().await > started);
}

/// Meshed pods owned by a StatefulSet or DaemonSet: name -> trust-root hash.
async fn stateful_and_daemon_proxies(cluster: &SimCluster) -> BTreeMap<String, String> {
    let pods = cluster.list_pods(None, MESHED).await.expect("list pods");
    pods.into_iter()
        .filter(|p| {
            p.owner
                .as_ref()
                .is_some_and(|o| o.kind == "StatefulSet" || o.kind == "DaemonSet")
        })
        .map(|p| {
            let hash = p
                .annotations
                .iter()
                .find(|kv| kv.key == TRUST_ROOT_ANNOTATION)
                .map(|kv| kv.value.clone())
                .unwrap_or_else(|| {
                    panic!("{}/{} lacks {TRUST_ROOT_ANNOTATION}", p.namespace, p.name)
                });
            (format!("{}/{}", p.namespace, p.name), hash)
        })
        .collect()
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The blog script's order (issuer before trust, Deployments only, old
/// anchor dropped at the end) breaks meshed calls on the demo and leaves
/// the StatefulSet and DaemonSet proxies trusting only the dropped anchor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blog_order_breaks_the_demo_and_strands_statefulsets_and_daemonsets() {
    let cluster = load("demo.yaml");
    let before = stateful_and_daemon_proxies(&cluster).await;
    assert!(
        before.keys().any(|p| p.starts_with("payments/ledger-")),
        "{before:?}"
    );
    assert!(
        before.keys().any(|p| p.starts_with("logging/log-shipper-")),
        "{before:?}"
    );
    let report = run(blog_order(), &cluster).await;
    // The script checks nothing, so it "succeeds".
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let sim = report.simulation.as_ref().expect("simulation report");
    assert!(sim.outage.broken_pair_seconds > 0.0, "{sim:?}");
    assert!(!sim.outage.windows.is_empty());

    // The report watched the mesh after the script exited: trust-manager
    // dropped the old anchor from the bundle.
    assert!(sim.after_run_seconds > 0, "{sim:?}");
    let f = &sim.final_state;
    assert_eq!(f.bundle_anchors, 1, "{f:?}");
    assert!(f.proxies_trusting_retired_anchor >= before.len(), "{f:?}");
    assert!(f.proxies_with_retired_chain_leaf >= before.len(), "{f:?}");

    // Never restarted, still started with the old bundle, which is no
    // longer the one in the ConfigMap.
    let after = stateful_and_daemon_proxies(&cluster).await;
    assert_eq!(after, before, "StatefulSet/DaemonSet pods were not touched");
    let bundle_hash = sha256_hex(&bundle_pem(&cluster).await);
    assert!(after.values().all(|h| *h != bundle_hash), "{after:?}");

    // And traffic is still failing: the outage keeps growing.
    cluster.advance(60);
    let later = cluster.simulation_report();
    assert!(
        later.outage.broken_pair_seconds > sim.outage.broken_pair_seconds,
        "{} -> {}",
        sim.outage.broken_pair_seconds,
        later.outage.broken_pair_seconds
    );
}

/// Three identity replicas reload the renewed issuer at their own kubelet
/// syncs. A policy that restarts the mesh on the first `IssuerUpdated`
/// gives some pods leaves from a replica still on the old issuer; once the
/// old anchor is dropped, pods that trust only the new one reject them. The
/// default policy waits for every replica (ha_identity_rotates_without_outage).
/// With every replica reloading at the same instant (no kubelet jitter, as
/// the simulator once modelled it) the same policy looks safe: the jitter
/// is what exposes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusting_the_first_issuer_reload_breaks_an_ha_mesh() {
    let cluster = load("ha-identity.yaml");
    let report = run(first_reload(), &cluster).await;
    assert_eq!(
        report.outcome,
        Outcome::Succeeded,
        "{}",
        error_text(&report)
    );
    let sim = report.simulation.as_ref().expect("simulation report");
    assert!(
        sim.outage.broken_pair_seconds > 0.0,
        "a lagging identity replica went unnoticed: {sim:?}"
    );

    let text = std::fs::read_to_string(scenarios_dir().join("ha-identity.yaml")).expect("read");
    let in_step = text.replace(
        "    podStartSeconds: 5",
        "    podStartSeconds: 5\n    kubeletSyncJitterSeconds: 0",
    );
    assert_ne!(in_step, text, "the scenario sets its timings");
    let cluster = Arc::new(SimCluster::from_yaml(&in_step).expect("loads"));
    let report = run(first_reload(), &cluster).await;
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(sim.outage.broken_pair_seconds, 0.0, "{sim:?}");
}

/// A workload injected ahead of time keeps its template's trust roots
/// through any restart: the rotation stops before changing anything, names
/// it, and the mesh keeps trusting the old anchor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_injected_workload_stops_the_rotation_before_any_change() {
    let cluster = load("pre-injected.yaml");
    let old_anchor = anchor_pem(&cluster).await;
    let report = run(support::policy(), &cluster).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    let error = report.error.clone().expect("a failed run says why");
    assert!(error.contains("shop/legacy-api"), "{error}");
    assert!(error.contains("injected ahead of time"), "{error}");
    assert!(!error.contains("shop/web"), "{error}");
    assert_eq!(
        report.calls.mutations, 0,
        "nothing changed: {:?}",
        report.calls
    );
    let sim = report.simulation.as_ref().expect("simulation report");
    assert!(!sim.final_state.anchor_rotated, "{:?}", sim.final_state);
    assert_eq!(sim.outage.broken_pair_seconds, 0.0);
    assert!(holds(&bundle_pem(&cluster).await, &old_anchor));
}

/// Anchors and issuers Linkerd would not accept, or whose lifetimes cannot
/// fit, a Linkerd version rotor cannot rotate, and trust roots nothing
/// writes (an unreconciled ClusterBundle), with the start of the
/// one line the preflight stops with.
const PREFLIGHT_REFUSALS: [(&str, &str); 6] = [
    (
        "lint-anchor-rsa-3072.yaml",
        "trust anchor cert-manager/linkerd-trust-anchor: has an RSA-3072 key; Linkerd accepts \
         ECDSA P-256, RSA-2048 or RSA-4096 keys for a trust anchor",
    ),
    (
        "lint-issuer-p384.yaml",
        "identity issuer linkerd/linkerd-identity-issuer: has an ECDSA P-384 key; Linkerd \
         accepts only an ECDSA P-256 key for the identity issuer",
    ),
    (
        "lint-issuer-not-ca.yaml",
        "identity issuer linkerd/linkerd-identity-issuer: is not a CA (basic constraints lack \
         CA:TRUE)",
    ),
    (
        "lint-issuer-outlives-anchor.yaml",
        "identity issuer linkerd/linkerd-identity-issuer: expires 10 days after its trust \
         anchor cert-manager/linkerd-trust-anchor does",
    ),
    (
        "linkerd-stable-2-10.yaml",
        "Linkerd stable-2.10.2 predates the trust-roots ConfigMap linkerd-identity-trust-roots \
         (Linkerd 2.11)",
    ),
    (
        "cluster-bundle-unreconciled.yaml",
        "configmap linkerd/linkerd-identity-trust-roots is missing",
    ),
];

/// Each is refused by the preflight before the first mutation: one
/// line naming the Certificate or the version and the problem, nothing applied (not even
/// the progress record or previous-anchor), the mesh untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfit_anchors_issuers_and_linkerd_versions_are_refused_before_the_first_mutation() {
    for (scenario, reason) in PREFLIGHT_REFUSALS {
        let cluster = load(scenario);
        let old_anchor = anchor_pem(&cluster).await;
        let report = run(support::policy(), &cluster).await;
        assert_eq!(
            report.outcome,
            Outcome::Failed,
            "{scenario}: {:?}",
            report.summary
        );
        let error = report.error.clone().expect("a refused run says why");
        assert!(error.contains(reason), "{scenario}: {error}");
        assert!(!error.contains('\n'), "{scenario}: one line: {error}");
        assert_eq!(report.calls.mutations, 0, "{scenario}: {:?}", report.calls);
        assert!(report.audit.is_empty(), "{scenario}: {:?}", report.audit);
        let sim = report.simulation.as_ref().expect("simulation report");
        assert!(!sim.final_state.anchor_rotated, "{scenario}");
        assert_eq!(sim.outage.broken_pair_seconds, 0.0, "{scenario}");
        assert_eq!(anchor_pem(&cluster).await, old_anchor, "{scenario}");
        // Trust roots nothing wrote stay unwritten.
        let roots = cluster.read_config_map(TRUST_ROOTS.0, TRUST_ROOTS.1).await;
        if scenario == "cluster-bundle-unreconciled.yaml" {
            assert!(roots.is_err(), "{scenario}: {roots:?}");
        } else {
            assert!(
                holds(&bundle_pem(&cluster).await, &old_anchor),
                "{scenario}"
            );
        }
    }
}

/// `rotor test` judges the same scenarios by their `Expect` documents.
#[test]
fn the_refusal_scenarios_pass_their_expect_documents() {
    let files: Vec<String> = PREFLIGHT_REFUSALS
        .iter()
        .map(|(f, _)| scenarios_dir().join(f).display().to_string())
        .collect();
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let output = support::rotor(&args);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{output:?}");
    assert_eq!(text.lines().last(), Some("6 passed, 0 failed"), "{text}");
}
