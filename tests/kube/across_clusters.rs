//! The default rotation across two clusters through the Kubernetes backend:
//! two test API servers, each backed by its own simulated cluster (a
//! virtual second every 10 ms on both, so they keep one time, which the
//! run reads through the home server's clock). East is the
//! home, whose cert-manager issues the anchor; west is a member holding a
//! copy of it, certificate and key, in a Secret its CA issuer signs with.
//! The run rotates both in lock-step: west copies east's new anchor, each
//! renews its own issuer, and no pair in either cluster ever fails.

use std::sync::Arc;

use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::{Backend, Cluster};
use rotor::config::RunConfig;
use rotor::guard::Grants;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::{DEFAULT_POLICY, RunCluster, RunControls, Runtime, RuntimeOptions};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

/// The demo as a member of `home`'s mesh: no self-signed issuer and no
/// anchor Certificate, but the home's anchor Secret, key included, where
/// the anchor's Secret would be, and the previous anchor beside it.
async fn member_of(home: &SimCluster, home_yaml: &str) -> SimCluster {
    let anchor = home
        .read_secret("cert-manager", "linkerd-trust-anchor")
        .await
        .unwrap();
    let data = |key: &str| -> String {
        let value = &anchor.data.iter().find(|(k, _)| k == key).unwrap().1;
        String::from_utf8(value.clone()).unwrap()
    };
    let indent = |pem: String| pem.trim_end().replace('\n', "\n    ");
    let copy = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: linkerd-trust-anchor\n  namespace: cert-manager\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n    {}\n  tls.key: |\n    {}\n  ca.crt: |\n    {}\n",
        indent(data("tls.crt")),
        indent(data("tls.key")),
        indent(data("tls.crt")),
    );
    // As the chart's bootstrap hook leaves it: a certificate-only copy.
    let previous = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: linkerd-previous-anchor\n  namespace: cert-manager\n\
         type: Opaque\nstringData:\n  tls.crt: |\n    {}\n",
        indent(data("tls.crt")),
    );
    let docs: Vec<&str> = home_yaml
        .split("\n---\n")
        .filter(|d| {
            !(d.contains("name: linkerd-trust-root-issuer")
                || (d.contains("kind: Certificate") && d.contains("name: linkerd-trust-anchor\n")))
        })
        .collect();
    let yaml = format!("{}\n---\n{copy}---\n{previous}", docs.join("\n---\n"));
    SimCluster::from_yaml(&yaml).expect("the member scenario loads")
}

/// A member writes its copy of the anchor besides the previous anchor.
fn member_grants() -> Grants {
    let mut grants = Grants::default();
    grants
        .write_secrets
        .push("cert-manager/linkerd-trust-anchor".into());
    grants
}

fn tls_crt(secret: &rotor::wit::Secret) -> Vec<u8> {
    secret
        .data
        .iter()
        .find(|(k, _)| k == "tls.crt")
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_rotates_a_home_and_a_member_in_lock_step() {
    let yaml = rotor::cluster::sim::DEMO_SCENARIO;
    let east = Arc::new(SimCluster::from_yaml(yaml).unwrap());
    let west = Arc::new(member_of(&east, yaml).await);
    let before = tls_crt(
        &west
            .read_secret("cert-manager", "linkerd-trust-anchor")
            .await
            .unwrap(),
    );
    let mut clusters = Vec::new();
    let mut servers = Vec::new();
    for (name, sim) in [("east", &east), ("west", &west)] {
        let server = TestApiServer::over_sim(sim.clone(), ServerOptions::default())
            .await
            .unwrap();
        // Each cluster's virtual clock, a second every 10 ms on both.
        let kube =
            KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock());
        clusters.push(RunCluster {
            name: name.into(),
            home: name == "east",
            cluster: Arc::new(kube) as Arc<dyn Cluster>,
            grants: if name == "east" {
                Grants::default()
            } else {
                member_grants()
            },
        });
        servers.push(server);
    }
    let runtime = Runtime::new(RuntimeOptions { cache_dir: None }).unwrap();
    let policy = runtime.load("linkerd-rotation", DEFAULT_POLICY).unwrap();
    let outcome = runtime
        .run_clusters(
            &policy,
            clusters,
            &RunConfig::default(),
            RunControls::default(),
        )
        .await;
    let report = RunReport::new(outcome, &policy, Backend::Kubernetes, false, None);
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let report: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();

    // West now holds east's new anchor, and both clusters trust it alone.
    let east_anchor = tls_crt(
        &east
            .read_secret("cert-manager", "linkerd-trust-anchor")
            .await
            .unwrap(),
    );
    let west_anchor = tls_crt(
        &west
            .read_secret("cert-manager", "linkerd-trust-anchor")
            .await
            .unwrap(),
    );
    assert_ne!(east_anchor, before, "east renewed its anchor");
    assert_eq!(west_anchor, east_anchor, "west copied east's new anchor");
    for (name, sim) in [("east", &east), ("west", &west)] {
        let r = sim.simulation_report();
        assert_eq!(r.outage.broken_pair_seconds, 0.0, "{name}: {:?}", r.outage);
        let f = &r.final_state;
        assert_eq!(f.bundle_anchors, 1, "{name}: {f:?}");
        assert!(f.issuer_rotated, "{name}: {f:?}");
        assert_eq!(f.proxies_trusting_retired_anchor, 0, "{name}: {f:?}");
        assert_eq!(f.proxies_with_retired_chain_leaf, 0, "{name}: {f:?}");
    }

    // Lock-step: no cluster renews its issuer before every cluster's
    // proxies trust the new anchor, nor retires the old anchor before
    // every cluster's leaves chain to the new one.
    let steps: Vec<String> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let at = |name: &str| {
        steps
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
    };
    assert!(
        at("renew-anchor@east") < at("renew-anchor@west"),
        "{steps:?}"
    );
    assert!(
        at("trust-new-anchor/data-plane@west") < at("renew-issuer@east"),
        "{steps:?}"
    );
    assert!(
        at("adopt-new-issuer/data-plane@west") < at("retire-old-anchor@east"),
        "{steps:?}"
    );
    assert!(
        report["summary"]["message"]
            .as_str()
            .unwrap()
            .contains("the identity issuers of 2 clusters (east, west)"),
        "{}",
        report["summary"]
    );
}
