//! Native-sidecar pods through the Kubernetes backend: the simulator's
//! native-sidecars scenario served by the test API server, read back by
//! `KubeCluster`. The proxy in `initContainers` with `restartPolicy:
//! Always` makes a pod meshed; an app's run-to-completion init container
//! is not a sidecar.

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::linkerd::{MESHED_SELECTOR, NOT_READY_KEY};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

const NATIVE: &str = include_str!("../scenarios/native-sidecars.yaml");

#[tokio::test]
async fn the_kubernetes_backend_sees_native_sidecar_pods_as_meshed() {
    // As `connect` does: kube's rustls provider, named (two are linked).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Arc::new(SimCluster::from_yaml(NATIVE).expect("scenario loads"));
    let server = TestApiServer::over_sim(sim, ServerOptions::default())
        .await
        .expect("server starts");
    let kube = KubeCluster::new(server.client().expect("client"), "rotor-system")
        .with_clock(server.clock());

    let pods = kube.list_pods(Some("shop"), MESHED_SELECTOR).await.unwrap();
    let web = pods.iter().find(|p| p.name.starts_with("web-")).unwrap();
    assert_eq!(web.containers, ["app"]);
    assert_eq!(web.init_containers, ["migrate", "linkerd-proxy"]);

    let keys = [NOT_READY_KEY.to_string()];
    let summaries = kube
        .list_pod_summaries(None, MESHED_SELECTOR, &keys)
        .await
        .unwrap();
    let shop: Vec<_> = summaries.iter().filter(|p| p.namespace == "shop").collect();
    assert_eq!(shop.len(), 4, "two web and two orders-db pods");
    for p in &shop {
        assert_eq!(
            p.containers.last().map(String::as_str),
            Some("linkerd-proxy"),
            "{p:?}"
        );
        assert!(!p.containers.iter().any(|c| c == "migrate"), "{p:?}");
        assert!(p.ready && p.annotations.is_empty(), "{p:?}");
    }
    // The namespace that opts out keeps the classic sidecar.
    let legacy = summaries.iter().find(|p| p.namespace == "legacy").unwrap();
    assert_eq!(legacy.containers, ["linkerd-proxy", "app"]);
}
