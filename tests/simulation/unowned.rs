//! The default policy and meshed pods rotor does not own (the
//! `unowned-*` scenarios): refused before any change when left to
//! `report`, and replaced by their own controllers when deleted one by one.
//! The zero-outage run of `unowned-delete-pods.yaml` is in the matrix
//! (`rotation_matrix.rs`) with the rest.

use crate::rotation_matrix::{
    MESHED, TRUST_ROOT_ANNOTATION, anchor_pem, assert_succeeded, bundle_pem, error_text, holds,
    load, run, run_with, scenario_config, sha256_hex,
};
use crate::support;

use rotor::cluster::Cluster;
use rotor::report::Outcome;

/// Pods of an Argo Rollout, a StrimziPodSet and a bare pod under the default
/// configuration (`report`): refused before the first mutation, in one
/// line naming each pod and its owner and what to configure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_left_to_report_refuse_the_rotation_before_any_change() {
    let cluster = load("unowned-report.yaml");
    let old_anchor = anchor_pem(&cluster).await;
    let report = run(support::policy(), &cluster).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    let error = report.error.clone().expect("a refused run says why");
    for named in [
        "6 meshed pod(s) not owned by a Deployment, StatefulSet or DaemonSet would need a \
         restart and their strategy is report; set unowned.ownerKinds.<kind> to delete-pods",
        "pod shop/debug-shell (bare pod)",
        "pod shop/cart-6c9d7f8b5-x7k2p (owned by Rollout shop/cart)",
        "pod kafka/events-kafka-2 (owned by StrimziPodSet kafka/events-kafka)",
    ] {
        assert!(error.contains(named), "{named}: {error}");
    }
    assert!(!error.contains('\n'), "one line: {error}");
    assert_eq!(report.calls.mutations, 0, "{:?}", report.calls);
    assert!(report.audit.is_empty(), "{:?}", report.audit);
    let sim = report.simulation.as_ref().expect("simulation report");
    assert!(!sim.final_state.anchor_rotated);
    assert_eq!(sim.outage.broken_pair_seconds, 0.0);
    assert!(holds(&bundle_pem(&cluster).await, &old_anchor));
}

/// What the policy does with the pods of custom owners, seen from the
/// cluster: the Rollout's pods come back under new names, the
/// StrimziPodSet's under their own, the bare pod is gone, and every one of
/// them runs a proxy that started with the final bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_owners_replace_their_deleted_pods_and_the_bare_pod_is_gone() {
    let scenario = "unowned-delete-pods.yaml";
    let cluster = load(scenario);
    let report = run_with(support::policy(), &cluster, &scenario_config(scenario)).await;
    assert_eq!(
        report.outcome,
        Outcome::Succeeded,
        "{}",
        error_text(&report)
    );
    let pods = cluster.list_pods(None, MESHED).await.expect("list pods");
    let owned = |kind: &str| -> Vec<String> {
        pods.iter()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.kind == kind))
            .map(|p| p.name.clone())
            .collect()
    };
    let cart = owned("Rollout");
    assert_eq!(cart.len(), 2, "{cart:?}");
    assert!(
        cart.iter().all(|n| n.starts_with("cart-6c9d7f8b5-")
            && !n.ends_with("x7k2p")
            && !n.ends_with("q9m4d")),
        "{cart:?}"
    );
    assert_eq!(
        owned("StrimziPodSet"),
        ["events-kafka-0", "events-kafka-1", "events-kafka-2"]
    );
    assert!(
        !pods.iter().any(|p| p.name == "debug-shell"),
        "bare pod gone"
    );
    assert_on_final_bundle(&cluster, pods.iter().filter(|p| p.namespace != "linkerd")).await;
    let deleted = report
        .audit
        .iter()
        .filter(|a| a.primitive == rotor::primitive::Primitive::DeletePod)
        .count();
    assert_eq!(
        deleted, 16,
        "5 pods in each of three rounds and the bare pod once"
    );
}

/// The `argo-rollouts` and `strimzi` strategies seen from the cluster: one
/// `restart-owner` per owner in each of the three restart rounds and no pod
/// deleted by rotor; the Rollout's pods come back under new names (its
/// ReplicaSet replaced them), the StrimziPodSet's under their own, every
/// one with the final bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_owners_restart_their_own_pods_when_asked() {
    for (scenario, kind, names) in [
        ("unowned-argo-rollouts.yaml", "Rollout", None),
        (
            "unowned-strimzi.yaml",
            "StrimziPodSet",
            Some(["events-kafka-0", "events-kafka-1", "events-kafka-2"]),
        ),
    ] {
        let cluster = load(scenario);
        let before = cluster.list_pods(None, MESHED).await.expect("list pods");
        let report = run_with(support::policy(), &cluster, &scenario_config(scenario)).await;
        assert_succeeded(&report, scenario);
        let by = |p: rotor::primitive::Primitive| {
            report.audit.iter().filter(|a| a.primitive == p).count()
        };
        assert_eq!(
            by(rotor::primitive::Primitive::RestartOwner),
            3,
            "{scenario}"
        );
        assert_eq!(by(rotor::primitive::Primitive::DeletePod), 0, "{scenario}");
        let pods = cluster.list_pods(None, MESHED).await.expect("list pods");
        let owned: Vec<&rotor::wit::Pod> = pods
            .iter()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.kind == kind))
            .collect();
        let count_before = before
            .iter()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.kind == kind))
            .count();
        assert_eq!(owned.len(), count_before, "{scenario}");
        match names {
            Some(names) => {
                let got: Vec<&str> = owned.iter().map(|p| p.name.as_str()).collect();
                assert_eq!(got, names, "{scenario}");
            }
            None => assert!(
                owned
                    .iter()
                    .all(|p| !before.iter().any(|b| b.name == p.name)),
                "{scenario}: every Rollout pod replaced"
            ),
        }
        assert_on_final_bundle(&cluster, owned.iter().copied()).await;
    }
}

/// Every pod in `pods` started with the trust roots the bundle holds now.
async fn assert_on_final_bundle<'p>(
    cluster: &rotor::cluster::sim::SimCluster,
    pods: impl Iterator<Item = &'p rotor::wit::Pod>,
) {
    let bundle_hash = sha256_hex(&bundle_pem(cluster).await);
    for p in pods {
        let hash = p
            .annotations
            .iter()
            .find(|kv| kv.key == TRUST_ROOT_ANNOTATION);
        assert_eq!(
            hash.map(|kv| kv.value.as_str()),
            Some(bundle_hash.as_str()),
            "{}/{}",
            p.namespace,
            p.name
        );
    }
}
