//! A full default rotation through `KubeCluster` -> test API server ->
//! `SimCluster`: zero outage in the backing simulator, `rotor plan` predicts
//! the steps the run takes, and the API requests are counted for two mesh
//! sizes.

use std::collections::BTreeMap;
use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::commands::Guest;
use rotor::commands::plan::{plan_against, verdict};
use rotor::commands::status::{StatusArgs, collect};
use rotor::config::RunConfig;
use rotor::report::RunReport;
use rotor::runtime::{DEFAULT_POLICY, RunControls, Runtime, RuntimeOptions};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

async fn run_policy(cluster: Arc<dyn Cluster>) -> RunReport {
    run_policy_with(cluster, &RunConfig::default()).await
}

/// The default policy under `config`, through `cluster`.
pub(crate) async fn run_policy_with(cluster: Arc<dyn Cluster>, config: &RunConfig) -> RunReport {
    let runtime = Runtime::new(RuntimeOptions { cache_dir: None }).unwrap();
    let policy = runtime.load("linkerd-rotation", DEFAULT_POLICY).unwrap();
    let backend = cluster.backend();
    let outcome = runtime
        .run(&policy, cluster, config, RunControls::default())
        .await;
    RunReport::new(outcome, &policy, backend, false, None)
}

fn step_names(r: &RunReport) -> Vec<String> {
    let steps = serde_json::to_value(&r.steps).unwrap();
    steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn serve(sim: Arc<SimCluster>) -> TestApiServer {
    TestApiServer::over_sim(sim, ServerOptions::default())
        .await
        .unwrap()
}

/// The requests that were not reads (get, list, watch, discovery).
fn non_reads(server: &TestApiServer) -> Vec<String> {
    server
        .requests()
        .into_keys()
        .filter(|k| {
            !["get ", "list ", "watch ", "GET discovery "]
                .iter()
                .any(|read| k.starts_with(read))
        })
        .collect()
}

fn kube(server: &TestApiServer) -> KubeCluster {
    KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock())
}

/// `namespaces` meshed namespaces with two single-replica Deployments each;
/// the simulator adds the standard control plane and certificates.
fn mesh(namespaces: usize) -> String {
    let mut y = String::from(
        "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  startTime: \"2026-03-02T09:00:00Z\"\n",
    );
    for i in 0..namespaces {
        y.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{i:02}\n  annotations:\n    linkerd.io/inject: enabled\n"
        ));
        for app in ["api", "worker"] {
            y.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: team-{i:02}\n  labels:\n    app: {app}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n    spec:\n      containers:\n      - name: app\n        image: ghcr.io/example/{app}:1\n"
            ));
        }
    }
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_through_the_api_server_has_no_outage_and_matches_the_plan() {
    let sim = Arc::new(SimCluster::demo());
    let server = serve(sim.clone()).await;
    let k = kube(&server);

    // Plan first: it reads the cluster and must not write to it.
    let plan = plan_against(
        &k,
        &Guest::builtin(),
        None,
        &RunConfig::default(),
        RuntimeOptions { cache_dir: None },
    )
    .await
    .unwrap();
    eprintln!("{}", verdict(&plan.report));
    assert!(plan.report.succeeded(), "{}", plan.report.render_text());
    let writes = non_reads(&server);
    assert!(writes.is_empty(), "plan wrote to the cluster: {writes:?}");

    let report = run_policy(Arc::new(k)).await;
    eprintln!("{}", report.render_text());
    assert!(report.succeeded(), "{}", report.render_text());
    let sim_report = sim.simulation_report();
    assert_eq!(
        sim_report.outage.broken_pair_seconds, 0.0,
        "meshed traffic broke during the run: {:?}",
        sim_report.outage.windows
    );
    assert!(sim_report.final_state.anchor_rotated && sim_report.final_state.issuer_rotated);
    assert_eq!(sim_report.final_state.proxies_trusting_retired_anchor, 0);
    assert_eq!(
        step_names(&plan.report),
        step_names(&report),
        "the plan predicts the run's steps"
    );
    assert_eq!(
        plan.report.calls.by_primitive.get("restart-workload"),
        report.calls.by_primitive.get("restart-workload"),
        "the plan predicts the restarts"
    );
}

/// API requests of a full rotation against meshes of two sizes.
async fn requests_for(namespaces: usize) -> (usize, u64, u64, BTreeMap<String, u64>) {
    let sim = Arc::new(SimCluster::from_yaml(&mesh(namespaces)).unwrap());
    let server = TestApiServer::start(sim.clone(), ServerOptions::default())
        .await
        .unwrap();
    let workloads = sim.list_workloads(None, None, "").await.unwrap().len();
    let report = run_policy(Arc::new(kube(&server))).await;
    assert!(report.succeeded(), "{}", report.render_text());
    assert_eq!(sim.simulation_report().outage.broken_pair_seconds, 0.0);
    // Policy calls that reach the cluster (not log, clock.now, x509, steps).
    let local = [
        "log",
        "now",
        "parse-pem",
        "verify-signed-by",
        "begin-step",
        "end-step",
        "dry-run",
        "wait",
    ];
    let backend_calls: u64 = report
        .calls
        .by_primitive
        .iter()
        .filter(|(k, _)| !local.contains(&k.name()))
        .map(|(_, v)| v)
        .sum();
    (
        workloads,
        backend_calls,
        server.request_total(),
        server.requests(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_grow_linearly_with_workloads() {
    let (w1, calls1, req1, by1) = requests_for(2).await;
    let (w2, calls2, req2, by2) = requests_for(8).await;
    println!("W={w1}: {req1} API requests for {calls1} policy calls to the cluster: {by1:?}");
    println!("W={w2}: {req2} API requests for {calls2} policy calls to the cluster: {by2:?}");
    let per_workload = (req2 - req1) as f64 / (w2 - w1) as f64;
    let overhead = |req: u64, calls: u64| req.saturating_sub(calls);
    println!(
        "{per_workload:.1} requests per added workload; backend overhead beyond the policy's own calls: {} (W={w1}), {} (W={w2})",
        overhead(req1, calls1),
        overhead(req2, calls2)
    );
    // What the backend adds to the policy's calls stays within 2W + a constant.
    for (w, calls, req) in [(w1, calls1, req1), (w2, calls2, req2)] {
        assert!(
            overhead(req, calls) <= 2 * w as u64 + 40,
            "W={w}: {req} requests for {calls} calls"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_stale_proxies_mid_rotation_and_none_after() {
    let sim = Arc::new(SimCluster::demo());
    let server = serve(sim.clone()).await;
    let observer: Arc<dyn Cluster> = Arc::new(kube(&server));
    let before = collect(observer.as_ref(), &StatusArgs::default())
        .await
        .unwrap();
    assert_eq!(before.stale_proxies, 0, "{:?}", before.stale_workloads);
    assert_eq!(before.bundle.as_ref().unwrap().anchors.len(), 1);

    let watcher = {
        let observer = observer.clone();
        tokio::spawn(async move {
            let mut most = (0, 0);
            loop {
                if let Ok(s) = collect(observer.as_ref(), &StatusArgs::default()).await {
                    let anchors = s.bundle.as_ref().map_or(0, |b| b.anchors.len());
                    if s.stale_proxies > most.0 {
                        most = (s.stale_proxies, anchors);
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                if most.0 > 0 && most.1 == 2 {
                    return most;
                }
            }
        })
    };
    let report = run_policy(Arc::new(kube(&server))).await;
    assert!(report.succeeded(), "{}", report.render_text());
    let (stale, anchors) = tokio::time::timeout(std::time::Duration::from_secs(5), watcher)
        .await
        .expect("stale proxies were seen during the rotation")
        .unwrap();
    println!("mid-rotation: {stale} stale proxies with {anchors} anchors in the bundle");
    assert!(stale > 0);

    let after = collect(observer.as_ref(), &StatusArgs::default())
        .await
        .unwrap();
    println!("{}", after.render_text());
    assert_eq!(after.stale_proxies, 0, "{:?}", after.stale_workloads);
    assert_eq!(after.bundle.as_ref().unwrap().anchors.len(), 1);
    assert!(after.identity.last_issuer_updated.is_some());
    assert!(
        !after
            .attention
            .iter()
            .any(|a| a.contains("stale") || a.contains("reload")),
        "{:?}",
        after.attention
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_command_prints_the_verdict() {
    // The binary reads the wall clock, as against a real cluster: the mesh
    // must live in the present for its certificates to make sense.
    let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
    let demo = rotor::cluster::sim::DEMO_SCENARIO.replace(
        "startTime: \"2026-03-02T09:00:00Z\"",
        &format!("startTime: \"{now}\""),
    );
    assert_ne!(demo, rotor::cluster::sim::DEMO_SCENARIO);
    let sim = Arc::new(SimCluster::from_yaml(&demo).unwrap());
    let server = serve(sim).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    let scenario = dir.path().join("live.yaml");
    let args = vec![
        "plan".to_string(),
        "--kubeconfig".into(),
        kc.display().to_string(),
        "--save-scenario".into(),
        scenario.display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rotor"))
            .args(&args)
            .env(
                "ROTOR_CACHE_DIR",
                std::env::temp_dir().join("rotor-test-cache"),
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("plan: 15 step(s), about ")
            && stdout.contains(
                "45 workload restart(s); no meshed traffic would break; the policy would succeed"
            ),
        "{stdout}"
    );
    // The scenario it ran on loads again.
    SimCluster::from_yaml(&std::fs::read_to_string(&scenario).unwrap()).unwrap();
    let writes = non_reads(&server);
    assert!(writes.is_empty(), "plan wrote to the cluster: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_sends_no_writes() {
    use rotor::commands::run::{RunArgs, run_against};
    use rotor::commands::{ClusterArgs, OutputFormat, PolicyArgs};
    use rotor::lock::LockTiming;
    let sim = Arc::new(SimCluster::demo());
    let server = serve(sim.clone()).await;
    let args = RunArgs {
        cluster: ClusterArgs::default(),
        policy: PolicyArgs::default(),
        dry_run: true,
        resume_only: false,
        output: OutputFormat::Json,
        observe: Default::default(),
    };
    let report = run_against(
        kube(&server),
        &args,
        &Guest::builtin(),
        &RunConfig::default(),
        RuntimeOptions { cache_dir: None },
        LockTiming::default(),
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{}", report.render_text());
    assert!(report.dry_run);
    assert!(
        !report.dry_run_mutations.is_empty(),
        "the run says what it would have done"
    );
    let writes = non_reads(&server);
    assert!(
        writes.is_empty(),
        "a dry run wrote to the cluster: {writes:?}"
    );
    let after = sim.simulation_report().final_state;
    assert!(!after.anchor_rotated && !after.issuer_rotated);
}

const ANCHOR: (&str, &str) = ("cert-manager", "linkerd-trust-anchor");
const PREVIOUS: (&str, &str) = ("cert-manager", "linkerd-previous-anchor");

fn value<'a>(s: &'a rotor::wit::Secret, key: &str) -> &'a [u8] {
    s.data
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
        .unwrap_or_else(|| panic!("secret {}/{} has no {key}", s.namespace, s.name))
}

/// A saved plan is a file people share: it must hold neither the anchor's
/// key nor what workloads keep in their specs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_holds_no_key_and_no_credential() {
    use base64::Engine as _;
    let mut scenario = mesh(1);
    scenario = scenario.replace(
        "    metadata:\n      labels:\n        app: api\n",
        "    metadata:\n      labels:\n        app: api\n      annotations:\n        kubectl.kubernetes.io/last-applied-configuration: '{\"env\":[{\"name\":\"PASSWORD\",\"value\":\"hunter2\"}]}'\n",
    );
    let sim = Arc::new(SimCluster::from_yaml(&scenario).unwrap());
    let server = TestApiServer::over_sim(
        sim.clone(),
        ServerOptions {
            container_env: vec![("PASSWORD".into(), "hunter2".into())],
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    // The cluster serves both: a dump that copied specs would carry them.
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(server.client().unwrap());
    let served =
        serde_json::to_string(&pods.list(&Default::default()).await.unwrap().items).unwrap();
    assert!(served.contains("\"value\":\"hunter2\""), "env served");
    assert!(
        served.contains("last-applied-configuration"),
        "annotation served"
    );
    let anchor = sim.read_secret(ANCHOR.0, ANCHOR.1).await.unwrap();
    let key = value(&anchor, "tls.key");
    assert!(rotor::x509::contains_private_key(key));

    let plan = plan_with(&server, None).await;
    assert!(plan.report.succeeded(), "{}", plan.report.render_text());
    let b64 = base64::engine::general_purpose::STANDARD;
    let saved = &plan.scenario;
    assert!(!saved.contains("hunter2"), "a credential in the plan");
    assert!(
        !saved.contains(&b64.encode(key)),
        "the anchor's key in the plan"
    );
    assert!(!rotor::x509::contains_private_key(saved.as_bytes()));
    assert!(!saved.contains("tls.key"), "a key entry in the plan");
    // What the simulation needs is still there: the anchor's certificate.
    assert!(saved.contains(&b64.encode(value(&anchor, "tls.crt"))));
}

async fn plan_with(
    server: &TestApiServer,
    config: Option<&std::path::Path>,
) -> rotor::commands::plan::Plan {
    plan_against(
        &kube(server),
        &Guest::builtin(),
        None,
        &loaded(config),
        RuntimeOptions { cache_dir: None },
    )
    .await
    .unwrap()
}

/// The previous anchor, checked to be an Opaque Secret holding `tls.crt` alone.
async fn certificate_only_previous(sim: &SimCluster) -> rotor::wit::Secret {
    let previous = sim.read_secret(PREVIOUS.0, PREVIOUS.1).await.unwrap();
    assert_eq!(previous.type_, "Opaque");
    let keys: Vec<&str> = previous.data.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["tls.crt"], "a certificate-only copy");
    previous
}

/// The demo with its previous-anchor Secret gone, as on a cluster where
/// the chart's bootstrap hook never ran.
async fn demo_without_previous_anchor() -> Arc<SimCluster> {
    let sim = Arc::new(SimCluster::demo());
    let rv = sim
        .read_secret(PREVIOUS.0, PREVIOUS.1)
        .await
        .unwrap()
        .resource_version;
    sim.delete_secret(PREVIOUS.0, PREVIOUS.1, &rv)
        .await
        .unwrap();
    sim
}

/// The run configuration at `path`, or the default one.
fn loaded(path: Option<&std::path::Path>) -> RunConfig {
    path.map_or_else(RunConfig::default, |p| {
        RunConfig::load(p).expect("the run configuration loads")
    })
}

async fn run_with(server: &TestApiServer, config: Option<&std::path::Path>) -> RunReport {
    use rotor::commands::run::{RunArgs, run_against};
    use rotor::commands::{ClusterArgs, OutputFormat, PolicyArgs};
    use rotor::lock::LockTiming;
    let args = RunArgs {
        cluster: ClusterArgs::default(),
        policy: PolicyArgs {
            config: config.map(std::path::Path::to_path_buf),
            ..PolicyArgs::default()
        },
        dry_run: false,
        resume_only: false,
        output: OutputFormat::Json,
        observe: Default::default(),
    };
    run_against(
        kube(server),
        &args,
        &Guest::builtin(),
        &loaded(config),
        RuntimeOptions { cache_dir: None },
        LockTiming::default(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_run_both_bootstrap_a_missing_previous_anchor() {
    let sim = demo_without_previous_anchor().await;
    let server = serve(sim.clone()).await;
    let plan = plan_with(&server, None).await;
    assert!(plan.report.succeeded(), "{}", plan.report.render_text());
    let report = run_with(&server, None).await;
    assert!(report.succeeded(), "{}", report.render_text());
    assert_eq!(step_names(&plan.report), step_names(&report));
    let previous = certificate_only_previous(&sim).await;
    let anchor = sim.read_secret(ANCHOR.0, ANCHOR.1).await.unwrap();
    assert_eq!(value(&previous, "tls.crt"), value(&anchor, "tls.crt"));
    assert!(
        sim.simulation_report()
            .final_state
            .private_key_copies
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_plan_and_run_stop_alike_naming_secret_and_grant() {
    let sim = demo_without_previous_anchor().await;
    let server = serve(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "grants:\n  writeSecrets: []\n").unwrap();
    let plan = plan_with(&server, Some(&config)).await;
    let report = run_with(&server, Some(&config)).await;
    assert!(!plan.report.succeeded() && !report.succeeded());
    let (planned, ran) = (plan.report.error.unwrap(), report.error.unwrap());
    assert_eq!(planned, ran, "plan and run stop with the same message");
    assert!(
        ran.contains("secret cert-manager/linkerd-previous-anchor is missing"),
        "{ran}"
    );
    assert!(ran.contains("grants.writeSecrets"), "{ran}");
    assert!(
        sim.read_secret(PREVIOUS.0, PREVIOUS.1).await.is_err(),
        "nothing written"
    );
}

/// A previous anchor as older releases left it (the anchor's type and data,
/// key included) is replaced through the API by its certificate alone: a
/// Secret's type cannot change in place, so rotor deletes it (at the version
/// it read) and creates it, while it still equals the anchor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_anchor_holding_the_key_is_replaced_by_its_certificate() {
    let sim = demo_without_previous_anchor().await;
    let anchor = sim.read_secret(ANCHOR.0, ANCHOR.1).await.unwrap();
    sim.write_secret(rotor::wit::SecretWrite {
        namespace: PREVIOUS.0.into(),
        name: PREVIOUS.1.into(),
        type_: anchor.type_.clone(),
        data: anchor.data.clone(),
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    })
    .await
    .unwrap();
    assert_eq!(
        sim.simulation_report().final_state.private_key_copies,
        ["cert-manager/linkerd-previous-anchor"],
        "the simulator reports the copy of the key"
    );
    let server = serve(sim.clone()).await;
    let report = run_with(&server, None).await;
    assert!(report.succeeded(), "{}", report.render_text());
    assert_eq!(server.requests().get("delete secrets"), Some(&1));
    certificate_only_previous(&sim).await;
    let f = sim.simulation_report();
    assert!(f.final_state.private_key_copies.is_empty(), "{f:?}");
    assert_eq!(f.outage.broken_pair_seconds, 0.0, "{:?}", f.outage.windows);
}
