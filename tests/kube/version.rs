//! `rotor status` on the control plane's Linkerd version, through
//! `KubeCluster` and the test API server: the simulated control plane's
//! `linkerd-config` read as on a cluster, what the version implies for a
//! rotation, proxies on other versions counted by version, a version too
//! old to rotate needing attention, and unknown or unparseable versions
//! shown as such rather than as errors.

use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::commands::status::{StatusArgs, StatusFormat, collect};
use rotor::testing::fake::{FakeCluster, FakeState, deployment};
use rotor::wit::{ConfigMap, KeyValue};

use crate::status::through_server;

fn scenario(file: &str) -> SimCluster {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(file);
    SimCluster::from_yaml(&std::fs::read_to_string(path).expect("scenario")).unwrap()
}

/// Every line of `lines` is in status's text.
fn shows(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_version_and_what_it_implies() {
    let (_server, kube) = through_server(Arc::new(SimCluster::demo())).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(s.exit_code(), 0, "{:?}", s.attention);
    let text = s.render(StatusFormat::Text);
    shows(
        &text,
        &[
            "linkerd edge-25.12.1 (from linkerd/linkerd-config values (linkerdVersion)):",
            "  trust roots from the linkerd-identity-trust-roots ConfigMap: yes",
            "  identity exports issuer_cert_ttl_seconds: yes",
            "  proxies injected as native sidecars by default: no",
            "  leaves live 86400 s (issuanceLifetime)",
            "  meshed proxies on another version: none",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&s.render(StatusFormat::Json)).unwrap();
    assert_eq!(json["linkerd"]["version"], "edge-25.12.1");
    assert_eq!(json["linkerd"]["issuer_ttl_metric"], true);
    assert_eq!(json["linkerd"]["leaf_lifetime_seconds"], 86_400);

    let (_server, kube) = through_server(Arc::new(scenario("native-sidecars.yaml"))).await;
    let text = collect(&kube, &StatusArgs::default())
        .await
        .unwrap()
        .render(StatusFormat::Text);
    assert!(
        text.contains("  proxies injected as native sidecars by default: yes"),
        "{text}"
    );
}

/// Linkerd 2.10 predates the trust-roots ConfigMap: status says the next
/// rotation would refuse it, in the line the rotation stops with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_rotor_cannot_rotate_needs_attention() {
    let (_server, kube) = through_server(Arc::new(scenario("linkerd-stable-2-10.yaml"))).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    assert_eq!(s.exit_code(), 1, "{:?}", s.attention);
    let want = "the next rotation would refuse: Linkerd stable-2.10.2 predates the trust-roots \
                ConfigMap linkerd-identity-trust-roots";
    assert!(
        s.attention.iter().any(|a| a.starts_with(want)),
        "{:?}",
        s.attention
    );
    let text = s.render(StatusFormat::Text);
    assert!(
        text.contains("  trust roots from the linkerd-identity-trust-roots ConfigMap: no"),
        "{text}"
    );
    assert!(
        text.contains("  identity exports issuer_cert_ttl_seconds: no"),
        "{text}"
    );
}

fn linkerd_config(data: Vec<KeyValue>, annotations: Vec<KeyValue>) -> FakeState {
    let (web, mut pods) = deployment("shop", "web", 3);
    let (api, api_pods) = deployment("shop", "api", 1);
    pods.extend(api_pods);
    for (p, v) in pods.iter_mut().zip([
        "edge-25.10.1",
        "edge-25.10.1",
        "edge-25.12.1",
        "stable-2.14.10",
    ]) {
        p.annotations = vec![KeyValue::new("linkerd.io/proxy-version", v)];
    }
    FakeState {
        workloads: vec![web, api],
        pods,
        config_maps: [(
            ("linkerd".to_string(), "linkerd-config".to_string()),
            ConfigMap {
                namespace: "linkerd".into(),
                name: "linkerd-config".into(),
                data,
                labels: vec![],
                annotations,
                resource_version: "1".into(),
            },
        )]
        .into(),
        ..FakeState::default()
    }
}

/// Proxies injected by another version are listed by version; the version
/// comes from `linkerd.io/created-by` when the values lack it; a version
/// that is no known release, or none at all, is shown as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_proxy_versions_and_unknown_versions_are_shown() {
    let state = linkerd_config(
        vec![KeyValue::new("values", "proxy:\n  nativeSidecar: true\n")],
        vec![KeyValue::new(
            "linkerd.io/created-by",
            "linkerd/helm edge-25.12.1",
        )],
    );
    let (_server, kube) = through_server(Arc::new(FakeCluster::new(state))).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    let text = s.render(StatusFormat::Text);
    shows(
        &text,
        &[
            "linkerd edge-25.12.1 (from linkerd/linkerd-config linkerd.io/created-by):",
            "  proxies injected as native sidecars by default: yes",
            "  meshed proxies on another version: 3: edge-25.10.1 (2), stable-2.14.10 (1)",
        ],
    );

    let state = linkerd_config(
        vec![KeyValue::new("values", "linkerdVersion: dev-5c1e\n")],
        vec![],
    );
    let (_server, kube) = through_server(Arc::new(FakeCluster::new(state))).await;
    let s = collect(&kube, &StatusArgs::default()).await.unwrap();
    let text = s.render(StatusFormat::Text);
    shows(
        &text,
        &[
            "linkerd dev-5c1e (from linkerd/linkerd-config values (linkerdVersion)):",
            "  not a release rotor knows (edge-, stable-, enterprise-): nothing inferred",
            "  identity exports issuer_cert_ttl_seconds: unknown for this version",
        ],
    );
    assert!(
        !s.attention.iter().any(|a| a.contains("dev-5c1e")),
        "{:?}",
        s.attention
    );

    let (_server, kube) = through_server(Arc::new(FakeCluster::new(FakeState::default()))).await;
    let text = collect(&kube, &StatusArgs::default())
        .await
        .unwrap()
        .render(StatusFormat::Text);
    assert!(
        text.contains("linkerd: version unknown (linkerd/linkerd-config not found)"),
        "{text}"
    );
}
