//! Who writes the trust bundle: on an install without trust-manager rotor
//! writes the trust-roots ConfigMap itself (`bundle.writer: rotor`), in
//! trust-manager's format, and resumes after a kill at any mutation; a
//! writer the ConfigMap contradicts is refused before the first mutation.

use crate::support;

use rotor::cluster::Cluster;
use rotor::config::RunConfig;
use rotor::report::Outcome;

use crate::resume::resume_configured_at_every_mutation;
use crate::rotation_matrix::{anchor_pem, bundle_pem, load, run_with, scenario_config};

const NO_TRUST_MANAGER: &str = "no-trust-manager.yaml";

fn config(yaml: &str) -> RunConfig {
    RunConfig::parse(yaml, std::path::Path::new("test.yaml")).expect("config parses")
}

/// The mismatches: (scenario, configuration, what the one-line refusal says).
const MISMATCHES: [(&str, &str, &str); 3] = [
    (
        NO_TRUST_MANAGER,
        "{}",
        "configmap linkerd/linkerd-identity-trust-roots shows no sign of trust-manager",
    ),
    (
        "demo.yaml",
        "policy: {bundle: {writer: rotor}}\ngrants: {writeConfigMaps: [linkerd/linkerd-identity-trust-roots]}",
        "bundle.writer is rotor but trust-manager owns configmap \
         linkerd/linkerd-identity-trust-roots (label trust.cert-manager.io/bundle=",
    ),
    (
        NO_TRUST_MANAGER,
        "policy: {bundle: {writer: rotor}}",
        "may not be written (grants.writeConfigMaps and the write-config-map verb must allow it)",
    ),
];

/// Each mismatch is refused in one line before anything is applied: not
/// the previous anchor, not the progress record, not the bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_the_config_map_contradicts_is_refused_before_the_first_mutation() {
    for (scenario, yaml, reason) in MISMATCHES {
        let cluster = load(scenario);
        let (anchor, bundle) = (anchor_pem(&cluster).await, bundle_pem(&cluster).await);
        let previous_version = cluster
            .read_secret("cert-manager", "linkerd-previous-anchor")
            .await
            .expect("previous anchor")
            .resource_version;
        let report = run_with(support::policy(), &cluster, &config(yaml)).await;
        assert_eq!(report.outcome, Outcome::Failed, "{scenario} {yaml}");
        let error = report.error.clone().expect("a refused run says why");
        assert!(error.contains(reason), "{scenario} {yaml}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
        assert_eq!(report.calls.mutations, 0, "{scenario}: {:?}", report.calls);
        assert_eq!(anchor_pem(&cluster).await, anchor, "{scenario}");
        assert_eq!(bundle_pem(&cluster).await, bundle, "{scenario}");
        let previous = cluster
            .read_secret("cert-manager", "linkerd-previous-anchor")
            .await
            .expect("previous anchor");
        assert_eq!(previous.resource_version, previous_version, "{scenario}");
    }
}

/// rotor's bundle is what trust-manager would have written for the same
/// sources: the new anchor alone, 64-column lines, no final newline; and
/// the chart's labels and Helm's ownership annotations are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotor_writes_the_bundle_as_trust_manager_would_and_keeps_helm_s_marks() {
    let cluster = load(NO_TRUST_MANAGER);
    let report = run_with(
        support::policy(),
        &cluster,
        &scenario_config(NO_TRUST_MANAGER),
    )
    .await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let writes = report
        .calls
        .by_primitive
        .get("write-config-map")
        .copied()
        .unwrap_or(0);
    assert_eq!(writes, 3, "the grant probe, {{old, new}}, then {{new}}");
    let bundle = bundle_pem(&cluster).await;
    assert_eq!(bundle, anchor_pem(&cluster).await.trim_end());
    assert!(bundle.lines().all(|l| l.len() <= 64), "{bundle}");
    let cm = cluster
        .read_config_map("linkerd", "linkerd-identity-trust-roots")
        .await
        .unwrap();
    let has = |kvs: &[rotor::wit::KeyValue], k: &str| kvs.iter().any(|kv| kv.key == k);
    assert!(has(&cm.labels, "app.kubernetes.io/managed-by"), "{cm:?}");
    assert!(has(&cm.annotations, "meta.helm.sh/release-name"), "{cm:?}");
    assert!(!has(&cm.labels, "trust.cert-manager.io/bundle"), "{cm:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_a_rotation_without_trust_manager_resumes_without_outage() {
    let text = support::scenario(NO_TRUST_MANAGER);
    let mutations =
        resume_configured_at_every_mutation(&text, &scenario_config(NO_TRUST_MANAGER)).await;
    eprintln!("no trust-manager: resumed after each of {mutations} mutations");
}
