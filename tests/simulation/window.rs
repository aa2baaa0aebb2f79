//! The restart window's limit per namespace: a namespace with more
//! workloads than `parallelismPerNamespace` rolls them out that many at a
//! time while other namespaces fill the rest of the window.

use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::generate::{GenerateOptions, generate};
use rotor::config::RunConfig;
use rotor::report::Outcome;

use crate::rotation_matrix::{error_text, run_with};
use crate::support;

/// Virtual seconds of a full rotation of `namespaces` x `per_namespace`
/// Deployments with the given policy settings.
async fn rotation_seconds(namespaces: u32, per_namespace: u32, policy: serde_json::Value) -> i64 {
    let generated = generate(&GenerateOptions {
        namespaces,
        workloads_per_namespace: per_namespace,
        statefulsets: 0,
        daemonsets: 0,
        seed: 7,
    })
    .expect("generates");
    let cluster = Arc::new(SimCluster::from_yaml(&generated.yaml).expect("loads"));
    let config = RunConfig {
        policy: Some(policy),
        ..RunConfig::default()
    };
    let report = run_with(support::policy(), &cluster, &config).await;
    assert_eq!(
        report.outcome,
        Outcome::Succeeded,
        "{}",
        error_text(&report)
    );
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(sim.outage.broken_pair_seconds, 0.0, "{:?}", sim.outage);
    report.finished_at - report.started_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_namespace_rolls_out_at_most_its_limit_at_once() {
    // One namespace of 12: a limit of 1 rolls its workloads out one by
    // one, three rounds long; without a limit of its own they go at once.
    let one_by_one =
        rotation_seconds(1, 12, serde_json::json!({"parallelismPerNamespace": 1})).await;
    let together = rotation_seconds(1, 12, serde_json::json!({"parallelismPerNamespace": 0})).await;
    assert!(
        one_by_one > together + 3 * 8 * 10,
        "one by one {one_by_one} s, together {together} s"
    );
    // Twelve namespaces of one: the limit never binds.
    let spread = rotation_seconds(12, 1, serde_json::json!({"parallelismPerNamespace": 1})).await;
    assert!(
        spread < one_by_one,
        "spread {spread} s, one namespace one by one {one_by_one} s"
    );
    eprintln!(
        "one namespace of 12: limit 1 {one_by_one} s, none {together} s; 12 namespaces of 1, limit 1: {spread} s"
    );
}
