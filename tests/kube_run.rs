//! `rotor run` against the test API server: the policy runs through
//! `KubeCluster` under the run lock, and a second run is refused while the
//! lock is held.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState};
use rotor::wit::Namespace;
use serde_json::json;

fn hello() -> PathBuf {
    PathBuf::from(rotor::runtime::GUESTS_DIR).join("hello.wasm")
}

async fn server() -> TestApiServer {
    let ns = |n: &str| Namespace {
        name: n.into(),
        labels: vec![],
        annotations: vec![],
    };
    let fake = Arc::new(FakeCluster::new(FakeState {
        now: 1_000,
        namespaces: vec![ns("emojivoto"), ns("linkerd")],
        ..FakeState::default()
    }));
    TestApiServer::start(
        fake,
        ServerOptions {
            tick: None,
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap()
}

async fn rotor(args: Vec<String>) -> (i32, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rotor"))
            .args(&args)
            .env(
                "ROTOR_CACHE_DIR",
                std::env::temp_dir().join("rotor-test-cache"),
            )
            .output()
            .expect("rotor runs")
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_args(kubeconfig: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "run".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--guest".into(),
        hello().display().to_string(),
        "--output".into(),
        "json".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_takes_the_lock_runs_the_policy_and_releases() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, out, err) = rotor(run_args(&kc, &[])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["backend"], "kubernetes");
    assert_eq!(report["summary"]["message"], "2 namespaces");
    assert!(
        report.get("virtual_seconds").is_none(),
        "no simulation section against a cluster"
    );
    let reqs = s.requests();
    assert_eq!(reqs.get("create leases"), Some(&1), "{reqs:?}");
    // Released: the next run finds the lease free.
    let (code, _, err) = rotor(run_args(&kc, &[])).await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_refused_while_the_lock_is_held() {
    let s = server().await;
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10);
    s.seed(
        "coordination.k8s.io/leases",
        "rotor-system",
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "rotor", "namespace": "rotor-system"},
            "spec": {"holderIdentity": "rotor-29113000-abcde", "leaseDurationSeconds": 60,
                     "acquireTime": since.to_string(), "renewTime": since.to_string()},
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, out, err) = rotor(run_args(&kc, &[])).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("rotation in progress, held by rotor-29113000-abcde since"),
        "{err}"
    );
    // A dry run takes no lock and changes nothing: it may look.
    let (code, out, err) = rotor(run_args(&kc, &["--dry-run"])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_digest_must_match() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let zeros = "0".repeat(64);
    let (code, _, err) = rotor(run_args(&kc, &["--guest-sha256", &zeros])).await;
    assert_ne!(code, 0);
    assert!(err.contains("SHA-256 is") && err.contains(&zeros), "{err}");
    assert!(
        !s.requests().contains_key("create leases"),
        "refused before touching the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_command_reports_a_missing_bundle() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, out, err) = rotor(vec![
        "status".into(),
        "--kubeconfig".into(),
        kc.display().to_string(),
    ])
    .await;
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.starts_with("status: needs attention"), "{out}");
    assert!(
        out.contains("linkerd/linkerd-identity-trust-roots not found"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_pushgateway_or_webhook_url_is_refused_before_the_run() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, _, err) = rotor(run_args(&kc, &["--pushgateway", "pushgateway:9091"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--pushgateway \"pushgateway:9091\" is not an http(s) URL"),
        "{err}"
    );
    let url_file = dir.path().join("webhook-url");
    std::fs::write(&url_file, "hooks.example/T0\n").unwrap();
    let (code, _, err) = rotor(run_args(
        &kc,
        &["--webhook-url-file", &url_file.display().to_string()],
    ))
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the webhook URL is not an http(s) URL"),
        "{err}"
    );
    assert!(
        !err.contains("hooks.example"),
        "the URL is a credential: {err}"
    );
    assert!(
        !s.requests().contains_key("create leases"),
        "refused before taking the lock"
    );
}
