//! Identity's issuer TTL gauge as the reload gate: read from every replica
//! through the pod proxy where the Linkerd version exports it, with
//! identity's events where it does not, where the run may not read it, and
//! where the policy is told not to; zero outage either way, and a replica
//! that never reloads still ends in identity's restart.

use crate::support;

use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::primitive::Primitive;
use rotor::report::{Outcome, RunReport};

use crate::rotation_matrix::{error_text, run_with, scenarios_dir};

fn ha(edit: impl Fn(String) -> String) -> Arc<SimCluster> {
    let text = std::fs::read_to_string(scenarios_dir().join("ha-identity.yaml")).expect("read");
    Arc::new(SimCluster::from_yaml(&edit(text)).expect("loads"))
}

fn calls(report: &RunReport, p: Primitive) -> u64 {
    report.calls.by_primitive.get(&p).copied().unwrap_or(0)
}

fn clean(report: &RunReport) {
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", error_text(report));
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(sim.outage.broken_pair_seconds, 0.0, "{sim:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gauge_gates_where_the_version_exports_it_and_events_elsewhere() {
    let report = run_with(support::policy(), &ha(|t| t), &RunConfig::default()).await;
    clean(&report);
    assert!(
        calls(&report, Primitive::GetPodMetrics) >= 3,
        "every replica's gauge is read: {:?}",
        report.calls
    );

    // stable-2.14 predates the gauge (edge-25.2.1).
    let old = ha(|t| {
        t.replace(
            "  nodes: 3\n",
            "  nodes: 3\n  linkerdVersion: stable-2.14.10\n",
        )
    });
    let report = run_with(support::policy(), &old, &RunConfig::default()).await;
    clean(&report);
    assert_eq!(
        calls(&report, Primitive::GetPodMetrics),
        0,
        "{:?}",
        report.calls
    );

    let off = RunConfig::parse(
        "policy: {identityMetrics: false}\n",
        std::path::Path::new("test.yaml"),
    )
    .unwrap();
    let report = run_with(support::policy(), &ha(|t| t), &off).await;
    clean(&report);
    assert_eq!(
        calls(&report, Primitive::GetPodMetrics),
        0,
        "{:?}",
        report.calls
    );

    // Not granted: one denied read, then the events.
    let denied = RunConfig::parse(
        "grants: {podMetrics: []}\n",
        std::path::Path::new("test.yaml"),
    )
    .unwrap();
    let report = run_with(support::policy(), &ha(|t| t), &denied).await;
    clean(&report);
    assert_eq!(report.calls.denied, 1, "{:?}", report.calls);
}

/// Replicas that never reload keep serving the old issuer's expiry: the
/// gauge's gate runs out and identity is restarted, as with the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_that_never_reload_are_restarted() {
    let sim = ha(|t| t.replace("  nodes: 3\n", "  nodes: 3\n  identityMissesReload: true\n"));
    let report = run_with(support::policy(), &sim, &RunConfig::default()).await;
    clean(&report);
    let summary = serde_json::to_string(&report.summary).unwrap();
    assert!(
        summary.contains("identity missed the issuer reload"),
        "{summary}"
    );
    assert!(
        calls(&report, Primitive::GetPodMetrics) >= 3,
        "{:?}",
        report.calls
    );
}
