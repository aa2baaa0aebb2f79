//! The clusters contract (`rotor:policy/clusters`, 0.1.6) in a run over one
//! cluster: the cluster is listed once, named `local`, home and selected;
//! an unknown name is `not-found`; and a policy built against 0.1.5, which
//! predates the interface, still loads and runs.

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::{LoadedPolicy, RunControls};
use rotor::testing::policies::guest;

use crate::support::{fact, runtime};

async fn run_on_demo(policy: &LoadedPolicy) -> RunReport {
    let cluster = Arc::new(SimCluster::demo());
    let backend: Arc<dyn Cluster> = cluster.clone();
    let outcome = runtime()
        .run(
            policy,
            backend,
            &RunConfig::default(),
            RunControls::default(),
        )
        .await;
    RunReport::new(outcome, policy, cluster.backend(), false, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_cluster_run_lists_one_home_cluster_named_local() {
    let policy = runtime()
        .load("cluster_tour.wasm", &guest("cluster_tour"))
        .expect("loads");
    assert!(policy.selects_clusters);
    let report = run_on_demo(&policy).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    assert_eq!(fact(&report, "clusters"), "local (home)");
    assert_eq!(fact(&report, "first"), "local");
    assert_eq!(fact(&report, "unknown"), "not-found, still local");
    assert!(
        fact(&report, "local").ends_with("event=recorded"),
        "{}",
        fact(&report, "local")
    );
    // One cluster: the report names none, as before the contract.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let audit = json["audit"].as_array().expect("audit");
    assert!(!audit.is_empty());
    assert!(
        audit.iter().all(|e| e.get("cluster").is_none()),
        "{audit:?}"
    );
}

/// `hello` as a policy built against 0.1.5 would be: the same component
/// with every `rotor:policy` import at the older version (same length, so
/// the bytes stay a valid component).
fn hello_built_against_0_1_5() -> Vec<u8> {
    let mut bytes = guest("hello");
    let (new, old) = (b"@0.1.6", b"@0.1.5");
    let mut replaced = 0;
    for i in 0..bytes.len().saturating_sub(new.len()) {
        if &bytes[i..i + new.len()] == new {
            bytes[i..i + new.len()].copy_from_slice(old);
            replaced += 1;
        }
    }
    assert!(replaced > 0, "hello imports rotor:policy@0.1.6");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_built_against_0_1_5_still_runs() {
    let wasm = hello_built_against_0_1_5();
    let info = runtime().inspect("hello-0.1.5.wasm", &wasm);
    assert_eq!(info.cannot_run, None);
    assert!(
        info.imports
            .iter()
            .any(|i| i.name == "rotor:policy/namespaces@0.1.5"),
        "{:?}",
        info.imports
    );
    assert!(info.imports.iter().all(|i| !i.name.contains("@0.1.6")));
    let policy = runtime().load("hello-0.1.5.wasm", &wasm).expect("loads");
    assert!(!policy.selects_clusters);
    let report = run_on_demo(&policy).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    assert_ne!(fact(&report, "namespaces"), "0");
}
