//! Pods of owners rotor does not restart, through the Kubernetes backend:
//! the unowned-delete-pods scenario served by the test API server. An Argo
//! Rollout's pods belong to a ReplicaSet the Rollout controls; the backend
//! follows the ReplicaSet to the Rollout, as it does to a Deployment, so
//! the policy's `unowned.ownerKinds.Rollout` applies to them.

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::linkerd::MESHED_SELECTOR;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

const UNOWNED: &str = include_str!("../scenarios/unowned-delete-pods.yaml");

#[tokio::test]
async fn pods_are_listed_under_their_rollout_strimzipodset_or_no_owner() {
    // As `connect` does: kube's rustls provider, named (two are linked).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Arc::new(SimCluster::from_yaml(UNOWNED).expect("scenario loads"));
    let server = TestApiServer::over_sim(sim, ServerOptions::default())
        .await
        .expect("server starts");
    let kube = KubeCluster::new(server.client().expect("client"), "rotor-system")
        .with_clock(server.clock());

    let pods = kube.list_pods(None, MESHED_SELECTOR).await.unwrap();
    let owner = |name: &str| {
        let p = pods
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        p.owner
            .as_ref()
            .map(|o| format!("{} {}/{}", o.kind, o.namespace, o.name))
    };
    assert_eq!(
        owner("cart-6c9d7f8b5-x7k2p").as_deref(),
        Some("Rollout shop/cart")
    );
    assert_eq!(
        owner("events-kafka-1").as_deref(),
        Some("StrimziPodSet kafka/events-kafka")
    );
    assert_eq!(owner("debug-shell"), None);
    let web = pods.iter().find(|p| p.name.starts_with("web-")).unwrap();
    assert_eq!(
        web.owner.as_ref().map(|o| o.kind.as_str()),
        Some("Deployment")
    );
}
