//! `rotor status` through `KubeCluster` and the test API server: stale
//! proxies are counted per workload, missed reloads and expiring anchors
//! are flagged, a healthy mesh exits 0, a rotation in progress exits 3, a
//! half-done one needs attention, rollouts' starting and terminating pods
//! are not counted, and an unreachable API server is one line.

use crate::support;

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::commands::status::{StatusArgs, StatusFormat, collect, status};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState, deployment};
use rotor::wit::{
    Certificate, Condition, ConfigMap, Event, EventType, KeyValue, ObjectRef, WorkloadKind,
};
use serde_json::json;
use sha2::{Digest, Sha256};

fn certificate(namespace: &str, name: &str, not_before: i64, not_after: i64) -> Certificate {
    Certificate {
        namespace: namespace.into(),
        name: name.into(),
        secret_name: name.into(),
        issuer_kind: "ClusterIssuer".into(),
        issuer_name: "x".into(),
        is_ca: true,
        generation: 1,
        ready: true,
        issuing: false,
        revision: Some(2),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Ready".into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Some(not_before),
        }],
        not_before: Some(not_before),
        not_after: Some(not_after),
        renewal_time: Some(not_after - 3600),
        renewal_disabled: false,
    }
}

/// A mesh whose bundle is `pem`; `stale` web pods carry another root hash.
pub(crate) fn mesh(pem: &str, stale: usize, issuer_reloaded: bool) -> FakeState {
    let now = jiff::Timestamp::now().as_second();
    let current = hex::encode(Sha256::digest(pem.as_bytes()));
    let (web, mut pods) = deployment("emojivoto", "web", 3);
    let (identity, identity_pods) = deployment("linkerd", "linkerd-identity", 1);
    pods.extend(identity_pods);
    for (i, p) in pods.iter_mut().enumerate() {
        let root = if i < stale {
            "0ld".to_string()
        } else {
            current.clone()
        };
        p.annotations = vec![KeyValue::new("linkerd.io/trust-root-sha256", root)];
    }
    let issued = now - 3_600;
    let mut events = Vec::new();
    if issuer_reloaded {
        events.push(Event {
            involved: ObjectRef {
                kind: "Deployment".into(),
                namespace: "linkerd".into(),
                name: "linkerd-identity".into(),
            },
            type_: EventType::Normal,
            reason: "IssuerUpdated".into(),
            message: "Updated identity issuer".into(),
            count: 1,
            first_time: issued + 30,
            last_time: issued + 30,
            source: "linkerd-identity".into(),
        });
    }
    FakeState {
        now,
        workloads: vec![web, identity],
        pods,
        certificates: vec![
            certificate(
                "cert-manager",
                "linkerd-trust-anchor",
                now - 86_400,
                now + 365 * 86_400,
            ),
            certificate(
                "linkerd",
                "linkerd-identity-issuer",
                issued,
                issued + 48 * 3_600,
            ),
        ],
        config_maps: [(
            (
                "linkerd".to_string(),
                "linkerd-identity-trust-roots".to_string(),
            ),
            ConfigMap {
                namespace: "linkerd".into(),
                name: "linkerd-identity-trust-roots".into(),
                data: vec![KeyValue::new("ca-bundle.crt", pem)],
                labels: vec![],
                annotations: vec![],
                resource_version: "1".into(),
            },
        )]
        .into(),
        events,
        ..FakeState::default()
    }
}

fn anchor_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "root.linkerd.cluster.local");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

/// `KubeCluster` through a test API server over `backend`, on its clock.
pub(crate) async fn through_server(backend: Arc<dyn Cluster>) -> (TestApiServer, KubeCluster) {
    let server = TestApiServer::start(backend, ServerOptions::clock_untouched())
        .await
        .unwrap();
    let kube =
        KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock());
    (server, kube)
}

async fn kube_for(state: FakeState) -> (TestApiServer, Arc<dyn Cluster>) {
    let (server, kube) = through_server(Arc::new(FakeCluster::new(state))).await;
    (server, Arc::new(kube))
}

#[tokio::test]
async fn healthy_mesh_is_ok() {
    let pem = anchor_pem();
    let (_s, kube) = kube_for(mesh(&pem, 0, true)).await;
    let (out, code) = status(kube.clone(), &StatusArgs::default()).await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("status: ok"), "{out}");
    assert!(
        out.contains("anchor CN=root.linkerd.cluster.local sha256:"),
        "{out}"
    );
    assert!(
        out.contains(
            "meshed proxies: 4 (0 started with another bundle, 1 the hash cannot tell: control plane or unannotated)"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn stale_proxies_are_counted_per_workload() {
    let pem = anchor_pem();
    let (_s, kube) = kube_for(mesh(&pem, 2, true)).await;
    let s = collect(kube.as_ref(), &StatusArgs::default())
        .await
        .unwrap();
    assert_eq!(s.stale_proxies, 2);
    assert_eq!(s.stale_workloads.len(), 1);
    assert_eq!(
        (
            s.stale_workloads[0].kind.as_str(),
            s.stale_workloads[0].name.as_str()
        ),
        ("Deployment", "web")
    );
    assert_eq!(s.bundle.as_ref().unwrap().anchors.len(), 1);
    let (out, code) = status(
        kube,
        &StatusArgs {
            output: StatusFormat::Prometheus,
            ..StatusArgs::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "rotor_stale_proxies{kind=\"Deployment\",namespace=\"emojivoto\",name=\"web\"} 2"
        ),
        "{out}"
    );
    assert!(out.contains("rotor_status_attention 1"), "{out}");
}

#[tokio::test]
async fn a_missed_issuer_reload_needs_attention() {
    let pem = anchor_pem();
    let (_s, kube) = kube_for(mesh(&pem, 0, false)).await;
    let s = collect(kube.as_ref(), &StatusArgs::default())
        .await
        .unwrap();
    assert_eq!(s.attention.len(), 1, "{:?}", s.attention);
    assert!(
        s.attention[0].contains("missed reload"),
        "{:?}",
        s.attention
    );
    let (out, code) = status(
        kube,
        &StatusArgs {
            output: StatusFormat::Json,
            ..StatusArgs::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["identity"]["last_issuer_updated"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn an_anchor_near_expiry_needs_attention() {
    let pem = anchor_pem();
    let (_s, kube) = kube_for(mesh(&pem, 0, true)).await;
    // Anchors valid until 2099 are fine unless the warning window reaches them.
    let args = StatusArgs {
        anchor_warn_days: 100 * 365,
        ..StatusArgs::default()
    };
    let s = collect(kube.as_ref(), &args).await.unwrap();
    assert!(
        s.attention
            .iter()
            .any(|a| a.contains("trust anchor CN=root.linkerd.cluster.local")),
        "{:?}",
        s.attention
    );
    assert!(
        s.attention
            .iter()
            .any(|a| a.contains("certificate cert-manager/linkerd-trust-anchor expires")),
        "{:?}",
        s.attention
    );
}

/// Mark `cert` as cert-manager shows a requested issuance: Issuing=True.
fn issuing(cert: &mut Certificate) {
    cert.issuing = true;
    cert.conditions.push(Condition {
        type_: "Issuing".into(),
        status: "True".into(),
        reason: "ManuallyTriggered".into(),
        message: "Certificate re-issuance manually triggered".into(),
        observed_generation: Some(1),
        last_transition_time: cert.not_before,
    });
}

/// The progress record the default policy leaves while at `step`.
fn record(step: &str, started_at: i64) -> String {
    json!({"mode": "full", "next": step, "startedAt": started_at,
           "anchorBefore": {"revision": 1, "fingerprint": "ab"}, "restarts": 0})
    .to_string()
}

#[tokio::test]
async fn a_rotation_stopped_half_done_needs_attention() {
    let pem = anchor_pem();
    let mut state = mesh(&pem, 0, true);
    let started = state.now - 600;
    state.progress = Some(record("renew-anchor", started));
    // The run stopped at the anchor gate with the issuance still pending.
    issuing(&mut state.certificates[0]);
    let (_s, kube) = kube_for(state).await;
    let (out, code) = status(kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("status: needs attention"), "{out}");
    assert!(
        out.contains("a rotation stopped half-done at step renew-anchor"),
        "{out}"
    );
    assert!(
        out.contains("certificate cert-manager/linkerd-trust-anchor has Issuing=True"),
        "{out}"
    );
    assert!(
        out.contains("waiting for cert-manager to issue cert-manager/linkerd-trust-anchor"),
        "{out}"
    );
}

#[tokio::test]
async fn two_anchors_in_the_bundle_with_no_rotation_need_attention() {
    let pem = format!("{}{}", anchor_pem(), anchor_pem());
    let (_s, kube) = kube_for(mesh(&pem, 0, true)).await;
    let s = collect(kube.as_ref(), &StatusArgs::default())
        .await
        .unwrap();
    assert!(
        s.attention
            .iter()
            .any(|a| a.contains("the trust bundle holds 2 anchors")),
        "{:?}",
        s.attention
    );
}

/// The `rotor` binary's (exit code, stdout, stderr), off the async workers.
async fn rotor(args: Vec<String>) -> (i32, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::rotor(&args)
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_in_progress_has_its_own_exit_code() {
    let pem = anchor_pem();
    let mut state = mesh(&pem, 0, true);
    state.progress = Some(record("trust-new-anchor", state.now - 120));
    issuing(&mut state.certificates[0]);
    let (server, _) = kube_for(state).await;
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(100);
    server.seed_run_lock(
        "rotor-system",
        "rotor-29113000-abcde",
        since,
        jiff::Timestamp::now(),
    );
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    let args = |output: &str| {
        vec![
            "status".to_string(),
            "--kubeconfig".into(),
            kc.display().to_string(),
            "--output".into(),
            output.into(),
        ]
    };
    let (code, out, err) = rotor(args("text")).await;
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}");
    assert!(out.starts_with("status: rotation in progress\n"), "{out}");
    assert!(out.contains("run by rotor-29113000-abcde since "), "{out}");
    assert!(
        out.contains("step trust-new-anchor of the rotation begun "),
        "{out}"
    );
    assert!(
        out.contains("waiting for cert-manager to issue cert-manager/linkerd-trust-anchor"),
        "{out}"
    );
    // In progress, a pending issuance is expected, not a finding.
    assert!(!out.contains("Issuing=True"), "{out}");
    let (code, out, _) = rotor(args("json")).await;
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rotation"]["holder"]["holder"], "rotor-29113000-abcde");
    assert_eq!(v["rotation"]["step"], "trust-new-anchor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_and_terminating_pods_are_not_meshed_proxies() {
    let sim = Arc::new(SimCluster::demo());
    let (_server, kube) = through_server(sim.clone()).await;
    let selector = rotor::linkerd::MESHED_SELECTOR;
    let before = collect(&kube, &StatusArgs::default()).await.unwrap();
    let steady = before.meshed_pods;
    assert_eq!(
        steady as usize,
        sim.list_pods(None, selector).await.unwrap().len()
    );

    // A rollout of the 3-replica frontend surges by one pod at most.
    sim.restart_workload(WorkloadKind::Deployment, "shop", "frontend")
        .await
        .unwrap();
    let mut most_listed = 0;
    for _ in 0..120 {
        let listed = sim.list_pods(None, selector).await.unwrap().len();
        most_listed = most_listed.max(listed);
        let s = collect(&kube, &StatusArgs::default()).await.unwrap();
        assert!(
            s.meshed_pods <= steady + 1,
            "{} meshed proxies counted for {steady} (+1 surge); {listed} pods listed",
            s.meshed_pods
        );
        sim.wait(1).await.unwrap();
    }
    assert!(
        most_listed > steady as usize + 1,
        "the rollout listed starting and terminating pods too ({most_listed})"
    );
    let after = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(after.meshed_pods, steady);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_server_is_one_line_with_its_address_and_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: here\n  context:\n    cluster: c\n    user: u\ncurrent-context: here\n"
        ),
    )
    .unwrap();
    let (code, out, err) = rotor(vec![
        "status".into(),
        "--kubeconfig".into(),
        kc.display().to_string(),
    ])
    .await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let address = format!("https://127.0.0.1:{port}");
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot reach the Kubernetes API at {address}: "
        )),
        "{err}"
    );
    assert!(
        lines[0].to_lowercase().contains("connection refused"),
        "{err}"
    );
}

/// The preflight lint in status, read through the Kubernetes backend: the
/// demo passes it (its issuer renewing daily is a warning, not attention);
/// a P-384 issuer needs attention, in the line the next rotation stops with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_preflight_lint() {
    let (_server, kube) = through_server(Arc::new(SimCluster::demo())).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(s.exit_code(), 0, "{:?}", s.attention);
    let rules: Vec<_> = s.lint.iter().map(|f| (f.rule, f.severity)).collect();
    assert_eq!(rules, [("issuer-renews-before-next-run", "warning")]);
    let text = s.render(StatusFormat::Text);
    assert!(
        text.contains(
            "  warning: identity issuer linkerd/linkerd-identity-issuer: cert-manager renews it \
             on its own in 23 h"
        ),
        "{text}"
    );

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/lint-issuer-p384.yaml");
    let yaml = std::fs::read_to_string(path).expect("scenario");
    let (_server, kube) = through_server(Arc::new(SimCluster::from_yaml(&yaml).unwrap())).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(s.exit_code(), 1, "{:?}", s.attention);
    let want = "the next rotation would refuse: identity issuer linkerd/linkerd-identity-issuer: \
                has an ECDSA P-384 key";
    assert!(
        s.attention.iter().any(|a| a.starts_with(want)),
        "{:?}",
        s.attention
    );
    let metrics = s.render(StatusFormat::Prometheus);
    assert!(
        metrics
            .contains("rotor_preflight_lint_findings{rule=\"issuer-key\",severity=\"refusal\"} 1"),
        "{metrics}"
    );
}

fn scenario(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(file);
    std::fs::read_to_string(path).expect("scenario")
}

/// `KubeCluster` through a test API server over a scenario, serving its
/// Bundles and ClusterBundles too.
async fn over_scenario(yaml: &str) -> (TestApiServer, KubeCluster) {
    let sim = Arc::new(SimCluster::from_yaml(yaml).unwrap());
    let server = TestApiServer::over_sim(sim, ServerOptions::clock_untouched())
        .await
        .unwrap();
    let kube =
        KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock());
    (server, kube)
}

/// trust-manager's set-up in status, read through the Kubernetes backend:
/// a reconciled ClusterBundle is shown and passes; one trust-manager never
/// reconciled (v0.25.0 serves the API without a controller) needs
/// attention, as does a selector that leaves out Linkerd's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_judges_the_bundle_that_writes_the_trust_roots() {
    let reconciled = scenario("cluster-bundle.yaml");
    let (_server, kube) = over_scenario(&reconciled).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert!(s.trust_manager.problems.is_empty(), "{:?}", s.trust_manager);
    let text = s.render(StatusFormat::Text);
    assert!(
        text.contains(
            "  ClusterBundle linkerd-identity-trust-roots: Synced True, sources Secret \
             linkerd-trust-anchor (tls.crt), Secret linkerd-previous-anchor (tls.crt)"
        ),
        "{text}"
    );

    let start = reconciled.find("status:\n  conditions:").unwrap();
    let end = start + reconciled[start..].find("---").unwrap();
    let never = format!("{}{}", &reconciled[..start], &reconciled[end..]);
    let unselected = reconciled.replace("values: [\"true\"]", "values: [\"false\"]");
    for (yaml, want) in [
        (
            never,
            "ClusterBundle linkerd-identity-trust-roots has no Synced condition: this \
             trust-manager does not reconcile ClusterBundles",
        ),
        (
            unselected,
            "ClusterBundle linkerd-identity-trust-roots's namespaceSelector \
             (linkerd.io/is-control-plane in (false)) leaves out namespace linkerd",
        ),
    ] {
        let (_server, kube) = over_scenario(&yaml).await;
        let s = collect(&kube, &StatusArgs::default()).await.unwrap();
        assert_eq!(s.exit_code(), 1);
        assert!(
            s.attention.iter().any(|a| a.starts_with(want)),
            "{:?}",
            s.attention
        );
    }
}

/// trust-manager started with `--target-namespaces` that leave out
/// Linkerd's writes no trust roots there: the simulator does not write
/// them, and status says why.
#[tokio::test]
async fn target_namespaces_that_leave_out_linkerd_need_attention() {
    let yaml = scenario("cluster-bundle.yaml").replace(
        "  startTime: \"2026-07-06T09:00:00Z\"",
        "  startTime: \"2026-07-06T09:00:00Z\"\n  trustManagerTargetNamespaces: [cert-manager, shop]",
    );
    let sim = SimCluster::from_yaml(&yaml).unwrap();
    let s = collect(&sim, &StatusArgs::default()).await.unwrap();
    let want = "trust-manager runs with --target-namespaces=cert-manager,shop, which leaves out \
                linkerd: it will not write linkerd/linkerd-identity-trust-roots";
    assert!(s.attention.iter().any(|a| a == want), "{:?}", s.attention);
    assert!(s.bundle.is_none(), "the trust roots were never written");
}
