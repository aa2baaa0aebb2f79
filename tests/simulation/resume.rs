//! Resumable runs: the default policy is killed right after its N-th applied
//! mutation (for every N a full rotation makes), the cluster state is saved
//! and loaded again, and a second run on it must finish the rotation without
//! any meshed pair ever failing, across both runs.

use crate::support;

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::runtime::{FailureKind, RunOutcome};

use support::{anchor_pem, fully_rotated_to, scenario};

async fn run(
    cluster: &Arc<SimCluster>,
    config: &RunConfig,
    kill_after_mutations: Option<u64>,
) -> RunOutcome {
    let backend: Arc<dyn Cluster> = cluster.clone();
    support::run_configured(backend, config, kill_after_mutations).await
}

/// The rotation is complete and nothing is left trusting the old anchor.
fn assert_rotated(cluster: &SimCluster, bundle_anchors: usize, context: &str) {
    let report = cluster.simulation_report();
    let f = &report.final_state;
    assert!(
        fully_rotated_to(f, bundle_anchors),
        "{context}: not fully rotated: {f:?}"
    );
}

/// Kill after every N in 1..=mutations of an uninterrupted rotation; resume
/// each from its saved state. Returns the mutation count.
async fn resume_at_every_mutation(scenario: &str) -> u64 {
    resume_configured_at_every_mutation(scenario, &RunConfig::default()).await
}

/// [`resume_at_every_mutation`] under `config` (both runs).
pub(crate) async fn resume_configured_at_every_mutation(scenario: &str, config: &RunConfig) -> u64 {
    resume_at_every_mutation_to(scenario, config, 1).await
}

/// [`resume_configured_at_every_mutation`] of a rotation that ends with
/// `bundle_anchors` anchors in the bundle (a staged one: two).
pub(crate) async fn resume_at_every_mutation_to(
    scenario: &str,
    config: &RunConfig,
    bundle_anchors: usize,
) -> u64 {
    let whole = Arc::new(SimCluster::from_yaml(scenario).expect("scenario loads"));
    let original_anchor = anchor_pem(&whole).await;
    let outcome = run(&whole, config, None).await;
    assert!(
        outcome.result.is_ok(),
        "uninterrupted run failed: {:?}",
        outcome.result
    );
    assert_eq!(whole.simulation_report().outage.broken_pair_seconds, 0.0);
    assert_rotated(&whole, bundle_anchors, "uninterrupted run");
    let mutations = outcome.record.calls.mutations;
    assert!(mutations > 0, "a rotation mutates");

    let mut failures = Vec::new();
    for n in 1..=mutations {
        let first = Arc::new(SimCluster::from_yaml(scenario).expect("scenario loads"));
        let killed = run(&first, config, Some(n)).await;
        let failure = match killed.result {
            Err(f) => f,
            Ok(_) => panic!("run killed after {n} mutations succeeded"),
        };
        assert_eq!(failure.kind, FailureKind::Killed, "N={n}: {failure}");
        assert_eq!(failure.message, format!("killed after {n} mutations"));
        assert_eq!(killed.record.calls.mutations, n, "N={n}");
        let first_outage = first.simulation_report().outage.broken_pair_seconds;

        let state = first.state_yaml();
        let second = Arc::new(
            SimCluster::from_yaml(&state)
                .unwrap_or_else(|e| panic!("N={n}: saved state does not load: {e}")),
        );
        let resumed = run(&second, config, None).await;
        let report = second.simulation_report();
        let outage = first_outage + report.outage.broken_pair_seconds;
        let f = &report.final_state;
        let ok = resumed.result.is_ok()
            && outage == 0.0
            && fully_rotated_to(f, bundle_anchors)
            && anchor_pem(&second).await != original_anchor;
        if !ok {
            failures.push(format!(
                "N={n}: resumed {:?}; outage {outage} (windows {:?} / {:?}); final {f:?}",
                resumed.result.as_ref().map(|s| &s.message),
                first.simulation_report().outage.windows,
                report.outage.windows,
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {mutations} kill points did not resume cleanly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    mutations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_the_demo_rotation_resumes_without_outage() {
    let mutations = resume_at_every_mutation(&scenario("demo.yaml")).await;
    eprintln!("demo: resumed after each of {mutations} mutations");
}

/// A run killed after asking a Rollout or a StrimziPodSet to restart asks
/// again when it resumes (the saved state keeps the pods, not the
/// controller's progress), and still converges without outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_custom_owner_restarts_resume_without_outage() {
    for file in ["unowned-argo-rollouts.yaml", "unowned-strimzi.yaml"] {
        let config = crate::rotation_matrix::scenario_config(file);
        let mutations = resume_configured_at_every_mutation(&scenario(file), &config).await;
        eprintln!("{file}: resumed after each of {mutations} mutations");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_twenty_namespaces_resume_without_outage() {
    let mutations = resume_at_every_mutation(&scenario("twenty-namespaces.yaml")).await;
    eprintln!("twenty namespaces: resumed after each of {mutations} mutations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_reports_failed_and_leaves_its_mutations_applied() {
    let cluster = Arc::new(SimCluster::demo());
    let before = cluster.state_yaml();
    let killed = run(&cluster, &RunConfig::default(), Some(1)).await;
    let failure = killed.result.expect_err("killed");
    assert_eq!(failure.kind, FailureKind::Killed);
    assert_eq!(killed.record.calls.mutations, 1);
    assert_ne!(
        cluster.state_yaml(),
        before,
        "the first mutation stays applied"
    );
}
