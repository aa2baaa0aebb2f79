//! Writing the trust-roots ConfigMap through the Kubernetes backend (Linkerd
//! without trust-manager): a replace at the read resourceVersion reaches the
//! cluster, a stale one is a conflict, the labels Helm needs are kept, and
//! the guard refuses any other ConfigMap before a request is sent.

use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::cluster::{Cluster, ClusterError};
use rotor::guard::{Grants, Guard, GuardError, TimeLimits};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::wit::{ConfigMapWrite, KeyValue};

use rotor::cluster::kube::KubeCluster;

const SCENARIO: &str = include_str!("../scenarios/no-trust-manager.yaml");

fn write(name: &str, bundle: &str, rv: Option<String>, labels: Vec<KeyValue>) -> ConfigMapWrite {
    ConfigMapWrite {
        namespace: "linkerd".into(),
        name: name.into(),
        data: vec![KeyValue::new("ca-bundle.crt", bundle)],
        labels,
        annotations: vec![],
        expected_resource_version: rv,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_roots_are_replaced_at_their_version_and_other_config_maps_are_denied() {
    let sim = Arc::new(SimCluster::from_yaml(SCENARIO).unwrap());
    let server = TestApiServer::over_sim(sim.clone(), ServerOptions::default())
        .await
        .unwrap();
    let kube = Arc::new(
        KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock()),
    );
    let before = kube
        .read_config_map("linkerd", "linkerd-identity-trust-roots")
        .await
        .unwrap();
    let new_bundle = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----";
    let rv = kube
        .write_config_map(write(
            "linkerd-identity-trust-roots",
            new_bundle,
            Some(before.resource_version.clone()),
            before.labels.clone(),
        ))
        .await
        .expect("replace at the read version");
    assert_ne!(rv, before.resource_version);
    let after = sim
        .read_config_map("linkerd", "linkerd-identity-trust-roots")
        .await
        .unwrap();
    assert_eq!(after.data, vec![KeyValue::new("ca-bundle.crt", new_bundle)]);
    assert_eq!(after.labels, before.labels, "the chart's labels kept");

    let stale = kube
        .write_config_map(write(
            "linkerd-identity-trust-roots",
            "stale",
            Some(before.resource_version),
            vec![],
        ))
        .await
        .expect_err("stale version");
    assert!(matches!(stale, ClusterError::Conflict(_)), "{stale}");

    let grants = Grants {
        write_config_maps: vec!["linkerd/linkerd-identity-trust-roots".into()],
        ..Grants::default()
    };
    let limits = TimeLimits {
        deadline_seconds: 600,
        max_wait_seconds: 60,
    };
    let mut guard = Guard::new(kube.clone(), grants, limits, false).await;
    server.reset_requests();
    let denied = guard
        .write_config_map(write("linkerd-config", "x", None, vec![]))
        .await
        .expect_err("not granted");
    match denied {
        GuardError::Refused(ClusterError::Denied(m)) => {
            assert!(m.contains("grants.writeConfigMaps"), "{m}")
        }
        other => panic!("expected denied, got {other:?}"),
    }
    assert!(
        server.requests().is_empty(),
        "a denied write sends nothing: {:?}",
        server.requests()
    );
    guard
        .write_config_map(write(
            "linkerd-identity-trust-roots",
            "granted",
            None,
            vec![],
        ))
        .await
        .expect("granted by name");
    assert!(
        server
            .requests()
            .keys()
            .any(|k| k.starts_with("update configmaps")),
        "{:?}",
        server.requests()
    );
}
