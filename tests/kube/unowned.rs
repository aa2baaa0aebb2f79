//! Pods of owners rotor does not restart, through the Kubernetes backend
//! and the test API server. An Argo Rollout's pods belong to a ReplicaSet
//! the Rollout controls; the backend follows the ReplicaSet to the Rollout,
//! as it does to a Deployment, so the policy's `unowned.ownerKinds.Rollout`
//! applies to them. `restart-owner` patches the Rollout or StrimziPodSet
//! over HTTP, and says so in one line when the CRD is not installed.

use std::path::Path;
use std::sync::Arc;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ResourceExt};
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::{
    Cluster, ClusterError, ROLLOUT, STRIMZI_MANUAL_ROLLING_UPDATE, STRIMZI_POD_SET,
};
use rotor::commands::test::find_expect;
use rotor::config::RunConfig;
use rotor::linkerd::MESHED_SELECTOR;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::wit::ObjectRef;
use serde_json::json;

use crate::rotation::run_policy_with;

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

const ARGO: &str = include_str!("../scenarios/unowned-argo-rollouts.yaml");
const STRIMZI: &str = include_str!("../scenarios/unowned-strimzi.yaml");

/// The Rollout and the StrimziPodSet the argo-rollouts and strimzi
/// scenarios hold, with the scenario each is in.
fn custom_owners() -> [(&'static str, ObjectRef); 2] {
    let owner = |kind: &str, namespace: &str, name: &str| ObjectRef {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    [
        (ARGO, owner("Rollout", "shop", "cart")),
        (STRIMZI, owner("StrimziPodSet", "kafka", "events-kafka")),
    ]
}

/// `scenario` behind the test API server, and rotor's backend on it.
async fn serve(
    scenario: &str,
    opts: ServerOptions,
) -> (Arc<SimCluster>, TestApiServer, KubeCluster) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Arc::new(SimCluster::from_yaml(scenario).expect("scenario loads"));
    let server = TestApiServer::over_sim(sim.clone(), opts)
        .await
        .expect("server starts");
    let kube = KubeCluster::new(server.client().expect("client"), "rotor-system")
        .with_clock(server.clock());
    (sim, server, kube)
}

/// The pods listed under `owner`: (name, start time).
async fn pods_of(sim: &SimCluster, owner: &ObjectRef) -> Vec<(String, Option<i64>)> {
    let pods = sim.list_pods(Some(&owner.namespace), "").await.unwrap();
    pods.into_iter()
        .filter(|p| p.owner.as_ref() == Some(owner))
        .map(|p| (p.name, p.start_time))
        .collect()
}

/// `restart_owner` over HTTP: the Rollout gets `spec.restartAt`, the time
/// returned, in RFC 3339; the StrimziPodSet gets the annotation; each
/// reaches the simulator's model of its controller, which replaces the
/// pods (new names under a Rollout, the same names under a StrimziPodSet).
#[tokio::test]
async fn restart_owner_writes_what_each_controller_reads_and_the_pods_are_replaced() {
    for (scenario, owner) in custom_owners() {
        let (sim, server, kube) = serve(scenario, ServerOptions::clock_untouched()).await;
        let before = pods_of(&sim, &owner).await;
        assert!(before.len() >= 3, "{before:?}");

        let at = kube.restart_owner(&owner).await.expect("restart-owner");
        let (_, group, version, plural) = if owner.kind == ROLLOUT.0 {
            ROLLOUT
        } else {
            STRIMZI_POD_SET
        };
        assert_eq!(
            server.requests().get(&format!("patch {plural}")),
            Some(&1),
            "{:?}",
            server.requests()
        );
        let written = server.stored(&format!("{group}/{plural}"), Some(&owner.namespace));
        assert_eq!(written.len(), 1, "{written:?}");
        // What a client reads back from the API.
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, &owner.kind),
            plural,
        );
        let api: Api<DynamicObject> =
            Api::namespaced_with(server.client().unwrap(), &owner.namespace, &ar);
        let served = api.get(&owner.name).await.expect("the owner is served");
        if owner.kind == ROLLOUT.0 {
            let restart_at = written[0]["spec"]["restartAt"].as_str().expect("restartAt");
            let parsed: jiff::Timestamp = restart_at.parse().expect("RFC 3339");
            assert_eq!(parsed.as_second(), at, "{restart_at}");
            assert_eq!(served.data["spec"]["restartAt"], restart_at);
        } else {
            let annotations = &written[0]["metadata"]["annotations"];
            assert_eq!(
                *annotations,
                json!({STRIMZI_MANUAL_ROLLING_UPDATE: "true"}),
                "{written:?}"
            );
            assert_eq!(
                served
                    .annotations()
                    .get(STRIMZI_MANUAL_ROLLING_UPDATE)
                    .map(String::as_str),
                Some("true")
            );
        }

        // Strimzi's reconciliation comes within 120 s; each pod in turn.
        sim.wait(600).await.unwrap();
        let after = pods_of(&sim, &owner).await;
        assert_eq!(after.len(), before.len(), "{after:?}");
        assert!(
            after
                .iter()
                .all(|(_, started)| started.is_some_and(|s| s >= at)),
            "{}: every pod started after the restart at {at}: {after:?}",
            owner.kind
        );
        let renamed = after.iter().filter(|p| !before.contains(p)).count();
        assert_eq!(renamed, after.len());
    }
}

/// Without the CRD the patch path is not served: `not-found`, naming the
/// kind and the missing CRD, and the backend is not asked.
#[tokio::test]
async fn restart_owner_without_the_crd_is_not_found_naming_it() {
    for (scenario, owner) in custom_owners() {
        let opts = ServerOptions {
            custom_owners: false,
            ..ServerOptions::clock_untouched()
        };
        let (sim, server, kube) = serve(scenario, opts).await;
        let before = pods_of(&sim, &owner).await;
        match kube.restart_owner(&owner).await {
            Err(ClusterError::NotFound(m)) => {
                assert!(
                    m.contains(&owner.kind) && m.contains("CRD is not installed"),
                    "{m}"
                );
            }
            other => panic!("{}: expected not-found, got {other:?}", owner.kind),
        }
        assert!(
            !server.requests().keys().any(|k| k.starts_with("patch")),
            "{:?}",
            server.requests()
        );
        sim.wait(600).await.unwrap();
        assert_eq!(pods_of(&sim, &owner).await, before, "no pod restarted");
    }
}

/// A whole rotation of each scenario through the test API server, under
/// the run configuration the scenario names: the owner is asked to restart
/// over HTTP, and no meshed call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_with_custom_owners_through_the_api_server_have_no_outage() {
    for (scenario, owner) in custom_owners() {
        let (sim, server, kube) = serve(scenario, ServerOptions::default()).await;
        let (_, expect) = find_expect(scenario).unwrap().expect("an Expect document");
        let yaml = serde_norway::to_string(&expect.config.expect("a run configuration")).unwrap();
        let config = RunConfig::parse(&yaml, Path::new("scenario")).unwrap();
        let report = run_policy_with(Arc::new(kube), &config).await;
        assert!(report.succeeded(), "{}", report.render_text());
        let plural = if owner.kind == ROLLOUT.0 {
            ROLLOUT.3
        } else {
            STRIMZI_POD_SET.3
        };
        let patches = server.requests().get(&format!("patch {plural}")).copied();
        assert!(patches >= Some(1), "{:?}", server.requests());
        let sim_report = sim.simulation_report();
        assert!(sim_report.final_state.anchor_rotated && sim_report.final_state.issuer_rotated);
        assert_eq!(
            sim_report.outage.broken_pair_seconds, 0.0,
            "{}: {:?}",
            owner.kind, sim_report.outage.windows
        );
        assert_eq!(sim_report.final_state.proxies_trusting_retired_anchor, 0);
        println!(
            "{} scenario through the API server: {} patch(es) of {plural}, {} API requests",
            owner.kind,
            patches.unwrap_or(0),
            server.request_total()
        );
    }
}
