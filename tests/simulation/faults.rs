//! Injected API errors: with a tenth of every primitive's calls failing
//! transiently (429, 500, client timeouts), the host's bounded retries carry
//! the default rotation through, or the policy stops safely; in no seeded run
//! does meshed traffic break, during the run or after it.

use crate::support;

use std::sync::Arc;

use rotor::cluster::Cluster;

use rotor::cluster::faults::{SimulatedBackend, simulated_backend};
use rotor::cluster::sim::SimCluster;

use support::{fully_rotated, run_default, scenario};

/// The demo scenario with `spec.faults` added to its Simulation document.
fn faulty_demo(faults: &str) -> String {
    let demo = scenario("demo.yaml");
    let marker = "  nodes: 3\n";
    assert!(demo.contains(marker), "demo.yaml has a Simulation spec");
    demo.replacen(marker, &format!("{marker}  faults: {faults}\n"), 1)
}

/// Time the mesh runs on after a run, to show nothing was left broken.
const AFTERWARDS_SECONDS: i64 = 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_transient_errors_never_break_traffic_in_twenty_seeded_runs() {
    let mut lines = Vec::new();
    let mut succeeded = 0;
    let mut injected = 0;
    for seed in 1..=20u64 {
        let text = faulty_demo(&format!(
            "{{seed: {seed}, errors: {{throttled: 0.04, serverError: 0.03, timeout: 0.03}}}}"
        ));
        let sim = Arc::new(SimCluster::from_yaml(&text).expect("scenario with faults loads"));
        let SimulatedBackend { backend, faults } =
            simulated_backend(sim.clone()).expect("valid faults");
        let faulty = faults.expect("faults configured");
        let outcome = run_default(backend, None).await;
        let during = sim.simulation_report();
        sim.advance(AFTERWARDS_SECONDS);
        let after = sim.simulation_report();
        let counts = faulty.injected();
        injected += counts.total();
        let ok = outcome.result.is_ok();
        if ok {
            succeeded += 1;
        }
        lines.push(format!(
            "seed {seed}: {} ({} injected, {} persisted); outage {} / after {}s {}; final {:?}",
            match &outcome.result {
                Ok(_) => "succeeded".to_string(),
                Err(f) => format!("stopped: {f}"),
            },
            counts.total(),
            counts.persisted,
            during.outage.broken_pair_seconds,
            AFTERWARDS_SECONDS,
            after.outage.broken_pair_seconds,
            after.final_state,
        ));
        assert_eq!(
            after.outage.broken_pair_seconds,
            0.0,
            "seed {seed} broke meshed traffic:\n{}",
            lines.join("\n")
        );
        if ok {
            assert!(
                fully_rotated(&after.final_state),
                "seed {seed} reported success without finishing:\n{}",
                lines.join("\n")
            );
        }
    }
    eprintln!("{}", lines.join("\n"));
    assert!(injected >= 20, "faults were injected: {injected}");
    // With six attempts per call, a 10% rate almost never persists.
    assert!(
        succeeded >= 18,
        "retries should carry most runs: {succeeded}/20\n{}",
        lines.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_reach_the_policy_which_stops_without_breaking_traffic() {
    let text = faulty_demo("{seed: 7, errors: {conflict: 0.5}}");
    let sim = Arc::new(SimCluster::from_yaml(&text).expect("loads"));
    let SimulatedBackend { backend, faults } =
        simulated_backend(sim.clone()).expect("valid faults");
    let outcome = run_default(backend, None).await;
    let counts = faults.expect("faults configured").injected();
    assert!(counts.conflict > 0, "{counts:?}");
    sim.advance(AFTERWARDS_SECONDS);
    assert_eq!(
        sim.simulation_report().outage.broken_pair_seconds,
        0.0,
        "{:?}",
        outcome.result
    );
    let failure = outcome.result.expect_err("a persistent 409 stops the run");
    assert!(failure.message.contains("409 Conflict"), "{failure}");
}

#[test]
fn impossible_fault_rates_are_refused_when_the_scenario_loads() {
    let err = SimCluster::from_yaml(&faulty_demo("{errors: {throttled: 1.5}}"))
        .expect_err("rate above 1");
    let text = err.to_string();
    assert!(
        text.contains("spec.faults") && text.contains("errors.throttled"),
        "{text}"
    );
    let err = SimCluster::from_yaml(&faulty_demo("{errors: {throttle: 0.1}}"))
        .expect_err("unknown field");
    assert!(err.to_string().contains("throttle"), "{err}");
}

/// cert-manager failing to issue the new anchor (`failIssuance`): the run
/// stops at the anchor's gate before anything is restarted, saying what
/// cert-manager said, and the mesh keeps trusting the old anchor alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_anchor_issuance_stops_the_run_before_any_restart() {
    let marker = "  nodes: 3\n";
    let text = scenario("demo.yaml").replacen(
        marker,
        &format!("{marker}  failIssuance: {{cert-manager/linkerd-trust-anchor: 1}}\n"),
        1,
    );
    let sim = Arc::new(SimCluster::from_yaml(&text).expect("scenario loads"));
    let old_anchor = support::anchor_pem(&sim).await;
    let outcome = run_default(sim.clone(), None).await;
    let failure = match &outcome.result {
        Ok(_) => panic!("the run cannot succeed without a new anchor"),
        Err(f) => f.to_string(),
    };
    assert!(failure.contains("gate anchor-renewed"), "{failure}");
    assert!(
        failure.contains("injected"),
        "names cert-manager's message: {failure}"
    );
    sim.advance(AFTERWARDS_SECONDS);
    let after = sim.simulation_report();
    assert_eq!(after.outage.broken_pair_seconds, 0.0, "{after:?}");
    assert!(!after.final_state.anchor_rotated, "{after:?}");
    assert_eq!(after.final_state.bundle_anchors, 1, "{after:?}");
    assert_eq!(support::anchor_pem(&sim).await, old_anchor);
    let restarts = sim
        .list_workloads(None, None, "")
        .await
        .expect("list")
        .iter()
        .filter(|w| {
            w.template_annotations
                .iter()
                .any(|kv| kv.key == "kubectl.kubernetes.io/restartedAt")
        })
        .count();
    assert_eq!(restarts, 0, "nothing was restarted");
}

#[test]
fn an_unknown_certificate_in_fail_issuance_is_named() {
    let marker = "  nodes: 3\n";
    let text = scenario("demo.yaml").replacen(
        marker,
        &format!("{marker}  failIssuance: {{cert-manager/nope: 1}}\n"),
        1,
    );
    let Err(err) = SimCluster::from_yaml(&text) else {
        panic!("an unknown Certificate is refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("failIssuance") && err.contains("cert-manager/nope"),
        "{err}"
    );
}

/// cert-manager's own renewal of the identity issuer falling a minute into
/// the run (issued 23 h before the start, renewed 25 h before its 48 h
/// expiry): the policy refuses to start into the race and names the
/// certificate; the renewal then lands on its own and traffic holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_issuer_renewal_due_mid_run_is_refused_up_front() {
    let issuer_end =
        "    group: cert-manager.io\n---\napiVersion: trust.cert-manager.io/v1alpha1\n";
    let demo = scenario("demo.yaml");
    assert!(demo.contains(issuer_end), "demo.yaml's issuer Certificate");
    let text = demo.replacen(
        issuer_end,
        "    group: cert-manager.io\nstatus:\n  notBefore: \"2026-03-01T10:01:00Z\"\n---\n\
         apiVersion: trust.cert-manager.io/v1alpha1\n",
        1,
    );
    let sim = Arc::new(SimCluster::from_yaml(&text).expect("scenario loads"));
    let issuer = sim
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .expect("issuer Certificate");
    let start = sim.now().await;
    assert_eq!(issuer.renewal_time, Some(start + 60), "{issuer:?}");

    let outcome = run_default(sim.clone(), None).await;
    let failure = match &outcome.result {
        Ok(_) => panic!("the run must not race cert-manager's renewal"),
        Err(f) => f.to_string(),
    };
    assert!(
        failure.contains("linkerd/linkerd-identity-issuer renews on its own"),
        "{failure}"
    );
    sim.advance(AFTERWARDS_SECONDS);
    let after = sim.simulation_report();
    assert_eq!(after.outage.broken_pair_seconds, 0.0, "{after:?}");
    assert!(!after.final_state.anchor_rotated, "{after:?}");
    assert!(
        after.final_state.issuer_rotated,
        "cert-manager renewed the issuer on its own: {after:?}"
    );
}
