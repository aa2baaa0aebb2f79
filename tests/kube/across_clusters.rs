//! The default rotation across two clusters through the Kubernetes backend:
//! two test API servers, each backed by one cluster of a simulation of two
//! that share one clock (each server ticks it, a virtual second every
//! 10 ms), read by the run through the home server's clock. East is the
//! home, whose cert-manager issues the anchor; west is a member holding a
//! copy of it, certificate and key, in a Secret its CA issuer signs with.
//! The run rotates both in lock-step: west copies east's new anchor, each
//! renews its own issuer, and no pair in either cluster ever fails.

use std::sync::Arc;

use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::multicluster::MultiSim;
use rotor::cluster::{Backend, Cluster};
use rotor::commands::Guest;
use rotor::commands::connect::Member;
use rotor::commands::plan::verdict;
use rotor::commands::plan_clusters::plan_across;
use rotor::config::RunConfig;
use rotor::guard::Grants;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::{DEFAULT_POLICY, RunCluster, RunControls, Runtime, RuntimeOptions};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

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

/// A rotation of a home and a member, each behind its own server.
pub(crate) struct Rotated {
    pub east: Arc<SimCluster>,
    pub west: Arc<SimCluster>,
    /// East's, then west's.
    pub servers: Vec<TestApiServer>,
    /// The run's JSON report.
    pub report: serde_json::Value,
    /// West's anchor before the run.
    pub before: Vec<u8>,
}

/// The default policy over east (home) and west (member) of the demo mesh,
/// under `grants` for each; panics unless the run succeeds.
/// East (home) and west (member) of the demo mesh, each behind its own
/// server, and each one's Kubernetes backend on its own virtual clock (a
/// second every 10 ms on both).
async fn home_and_member() -> (
    Arc<SimCluster>,
    Arc<SimCluster>,
    Vec<TestApiServer>,
    Vec<KubeCluster>,
) {
    let sim = MultiSim::from_yaml(&two_demos()).expect("the scenario of two clusters loads");
    let (east, west) = (
        sim.clusters()[0].cluster.clone(),
        sim.clusters()[1].cluster.clone(),
    );
    let mut servers = Vec::new();
    let mut kubes = Vec::new();
    for cluster in [&east, &west] {
        let server = TestApiServer::over_sim(cluster.clone(), ServerOptions::default())
            .await
            .unwrap();
        kubes.push(
            KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock()),
        );
        servers.push(server);
    }
    (east, west, servers, kubes)
}

/// The demo mesh twice: east, the home, as it is; west, a member, without
/// the self-signed issuer and the anchor Certificate (the simulator gives
/// it a copy of east's anchor, key included, and of its previous anchor).
fn two_demos() -> String {
    let demo = rotor::cluster::sim::DEMO_SCENARIO;
    let named = |name: &str, home: bool| {
        demo.replace(
            "kind: Simulation\nspec:\n",
            &format!("kind: Simulation\nspec:\n  cluster: {{name: {name}, home: {home}}}\n"),
        )
    };
    let member: Vec<String> = named("west", false)
        .split("\n---\n")
        .filter(|d| {
            !(d.contains("name: linkerd-trust-root-issuer")
                || (d.contains("kind: Certificate")
                    && d.contains("  name: linkerd-trust-anchor\n")))
        })
        .map(String::from)
        .collect();
    format!("{}\n---\n{}", named("east", true), member.join("\n---\n"))
}

pub(crate) async fn rotate_home_and_member(grants: [Grants; 2]) -> Rotated {
    let (east, west, servers, kubes) = home_and_member().await;
    let before = tls_crt(
        &west
            .read_secret("cert-manager", "linkerd-trust-anchor")
            .await
            .unwrap(),
    );
    let clusters = ["east", "west"]
        .into_iter()
        .zip(kubes)
        .zip(grants)
        .map(|((name, kube), grants)| RunCluster {
            name: name.into(),
            home: name == "east",
            cluster: Arc::new(kube) as Arc<dyn Cluster>,
            grants,
        })
        .collect();
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
    Rotated {
        east,
        west,
        servers,
        report: serde_json::from_str(&report.to_json()).unwrap(),
        before,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_rotates_a_home_and_a_member_in_lock_step() {
    let Rotated {
        east,
        west,
        report,
        before,
        ..
    } = rotate_home_and_member([Grants::default(), member_grants()]).await;

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
        // West's anchor copy holds the key its CA issuer signs with: that
        // is no stray key copy.
        assert_eq!(f.private_key_copies, Vec::<String>::new(), "{name}: {f:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_predicts_the_rotation_across_clusters_and_writes_nothing() {
    let (_east, _west, servers, kubes) = home_and_member().await;
    let members: Vec<Member> = ["east", "west"]
        .into_iter()
        .zip(kubes)
        .map(|(name, kube)| Member {
            name: name.into(),
            home: name == "east",
            kube,
        })
        .collect();
    let config = RunConfig::parse(
        "clusters:\n- {name: east, context: east, home: true}\n\
         - name: west\n  context: west\n  grants:\n    \
         writeSecrets: [cert-manager/linkerd-trust-anchor, cert-manager/linkerd-previous-anchor]\n",
        std::path::Path::new("run.yaml"),
    )
    .unwrap();
    let plan = plan_across(
        &members,
        &Guest::builtin(),
        None,
        &config,
        RuntimeOptions { cache_dir: None },
    )
    .await
    .unwrap();
    let report = &plan.report;
    assert!(report.succeeded(), "{}", report.render_text());
    let mc = report
        .multicluster
        .as_ref()
        .expect("a simulation of two clusters");
    assert_eq!(mc.broken_pair_seconds, 0.0, "{}", report.render_text());
    assert_eq!(
        mc.clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["east", "west"]
    );
    assert!(
        mc.clusters
            .iter()
            .all(|c| c.simulation.final_state.issuer_rotated),
        "{}",
        report.render_text()
    );
    let steps: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(steps.contains(&"renew-anchor@west"), "{steps:?}");
    assert!(
        verdict(report).contains("no meshed traffic would break"),
        "{}",
        verdict(report)
    );
    // Both clusters were only read.
    for (name, server) in ["east", "west"].into_iter().zip(&servers) {
        crate::multicluster::assert_only_read(name, server);
    }
}
