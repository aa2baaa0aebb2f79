//! `rotor run` against the test API server: the policy runs through
//! `KubeCluster` under the run lock, a second run is refused while the
//! lock is held, and a rotation's progress shows on stderr as log lines
//! (text or JSON) when stderr is not a terminal.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState};
use rotor::wit::Namespace;

fn hello() -> PathBuf {
    PathBuf::from(rotor::runtime::GUESTS_DIR).join("hello.wasm")
}

async fn server() -> TestApiServer {
    server_with_progress(None).await
}

/// [`server`] with a progress record saved: a rotation in progress.
async fn server_with_progress(progress: Option<&str>) -> TestApiServer {
    let ns = |n: &str| Namespace {
        name: n.into(),
        labels: vec![],
        annotations: vec![],
    };
    let fake = Arc::new(FakeCluster::new(FakeState {
        now: 1_000,
        namespaces: vec![ns("emojivoto"), ns("linkerd")],
        progress: progress.map(String::from),
        ..FakeState::default()
    }));
    TestApiServer::start(fake, ServerOptions::clock_untouched())
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
    s.seed_run_lock("rotor-system", "rotor-29113000-abcde", since, since);
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

/// A progress record: the rotation stopped before adopt-new-issuer.
const IN_PROGRESS: &str = "{\"next\":\"adopt-new-issuer\"}";

/// The resume CronJob's run: nothing to continue, or another run at it,
/// is a quiet success that takes no lock; a rotation in progress runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_only_runs_only_a_rotation_in_progress() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, out, err) = rotor(run_args(&kc, &["--resume-only"])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("no rotation in progress"), "{err}");
    assert!(out.is_empty(), "no report: {out}");
    assert!(!s.requests().contains_key("create leases"), "no lock taken");

    let s = server_with_progress(Some(IN_PROGRESS)).await;
    s.write_kubeconfig(&kc).unwrap();
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10);
    s.seed_run_lock("rotor-system", "rotor-29113000-abcde", since, since);
    let (code, out, err) = rotor(run_args(&kc, &["--resume-only"])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("another run is rotating"), "{err}");

    // The lock free again: the run goes ahead.
    let s = server_with_progress(Some(IN_PROGRESS)).await;
    s.write_kubeconfig(&kc).unwrap();
    let (code, out, err) = rotor(run_args(&kc, &["--resume-only"])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(s.requests().get("create leases"), Some(&1));
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

/// The demo mesh with its simulated clock starting now: the binary's
/// clock is the wall clock.
fn demo_from_now() -> SimCluster {
    let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
    let yaml = rotor::cluster::sim::DEMO_SCENARIO.replace(
        "startTime: \"2026-03-02T09:00:00Z\"",
        &format!("startTime: \"{now}\""),
    );
    SimCluster::from_yaml(&yaml).unwrap()
}

/// A full default rotation of the demo mesh (backed by the simulator, a
/// virtual second every 10 ms) by the `rotor` binary; (exit code, stderr).
async fn rotate_demo(extra: &[&str]) -> (i32, String) {
    let s = TestApiServer::over_sim(Arc::new(demo_from_now()), ServerOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let mut args: Vec<String> = vec![
        "run".into(),
        "--kubeconfig".into(),
        kc.display().to_string(),
        "--output".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let (code, out, err) = rotor(args).await;
    let report: serde_json::Value =
        serde_json::from_str(&out).expect("the report alone is on stdout");
    assert_eq!(report["outcome"], "succeeded", "{out}\n{err}");
    (code, err)
}

/// Where the first line containing each needle is, in order of the needles.
fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.lines()
                .position(|l| l.contains(n))
                .unwrap_or_else(|| panic!("no line with {n:?} in:\n{text}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_logs_its_steps_restarts_and_waits_in_order() {
    let (code, err) = rotate_demo(&[]).await;
    assert_eq!(code, 0, "{err}");
    let at = positions(
        &err,
        &[
            "step preflight started",
            "step preflight ended ok",
            "step renew-anchor started",
            "waiting on gate anchor-renewed for 0 s of 300 s: certificate cert-manager/linkerd-trust-anchor",
            "gate anchor-renewed passed",
            "step renew-anchor ended ok",
            "step trust-new-anchor/control-plane started",
            " rolling out, 0 of ",
            "step trust-new-anchor/data-plane started",
            "step drop-old-anchor/data-plane ended ok",
            "run succeeded",
        ],
    );
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?} in:\n{err}");
    for line in err.lines() {
        assert!(
            line.contains("INFO rotor::progress"),
            "only progress at the default verbosity: {line}"
        );
    }
    // Quiet: no progress at all (shown with a quick policy).
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc).unwrap();
    let (code, _, err) = rotor(run_args(&kc, &[])).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("run succeeded after"), "{err}");
    let (code, _, err) = rotor(run_args(&kc, &["--quiet"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_progress_lines_parse_with_stable_fields() {
    let (code, err) = rotate_demo(&["--log-format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |event: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["event"] == event).collect()
    };
    for l in &lines {
        assert_eq!(l["target"], "rotor::progress", "{l}");
        assert_eq!(l["level"], "INFO", "{l}");
        assert!(l["at"].is_i64() && l["message"].is_string(), "{l}");
    }
    let started = of("step-started");
    let ended = of("step-ended");
    assert_eq!(started.len(), ended.len(), "every step ends");
    assert_eq!(started[0]["step"], "preflight");
    assert!(
        ended
            .iter()
            .all(|e| e["ok"] == true && e["seconds"].is_i64())
    );
    let window = of("window")[0];
    for field in ["started", "running", "done", "total"] {
        assert!(window[field].is_i64(), "{field}: {window}");
    }
    assert!(
        window["workloads"].is_string() && window["step"].is_string(),
        "{window}"
    );
    let waiting = of("waiting")[0];
    assert_eq!(waiting["gate"], "anchor-renewed", "{waiting}");
    assert_eq!(waiting["timeout"], 300);
    assert_eq!(waiting["clock"], "wall");
    assert!(
        waiting["waited"].is_i64() && waiting["saw"].is_string(),
        "{waiting}"
    );
    let done = of("gate-done")[0];
    assert_eq!(done["outcome"], "passed", "{done}");
    let finished = of("run-finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["ok"], true);
}
