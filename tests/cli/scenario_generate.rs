//! `rotor scenario generate` through the built binary: the written scenario
//! loads with the asked-for counts, the default policy rotates it with no
//! outage, the same seed gives the same bytes, and bad flags are one line.

use crate::support;

use std::process::Output;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::multicluster::MultiSim;
use rotor::wit::WorkloadKind;
use support::{one_line_error, rotor};

fn generate(args: &[&str]) -> Output {
    let mut all = vec!["scenario", "generate"];
    all.extend_from_slice(args);
    rotor(&all)
}

#[tokio::test]
async fn written_scenario_has_the_flags_counts_and_rotates_without_outage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mesh.yaml");
    let path_arg = path.display().to_string();
    let out = generate(&[
        "--namespaces",
        "12",
        "--workloads-per-namespace",
        "4",
        "--statefulsets",
        "3",
        "--daemonsets",
        "2",
        "--seed",
        "9",
        "--output",
        &path_arg,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "the scenario goes to the file");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("12 namespaces") && note.contains("43 Deployments"),
        "{note}"
    );
    assert!(
        !note.contains("warning"),
        "this mesh rotates within the default deadline: {note}"
    );

    let text = std::fs::read_to_string(&path).expect("scenario written");
    let sim = SimCluster::from_yaml(&text).expect("the scenario loads");
    // What the loader adds (control plane, cert-manager) is what an empty
    // scenario holds; the rest came from the generator.
    let standard = SimCluster::from_yaml("").expect("an empty scenario loads");
    let standard: Vec<String> = standard
        .list_namespaces("")
        .await
        .expect("lists")
        .into_iter()
        .map(|ns| ns.name)
        .collect();
    let namespaces = sim.list_namespaces("").await.expect("lists");
    let generated: Vec<_> = namespaces
        .iter()
        .filter(|ns| !standard.contains(&ns.name))
        .collect();
    assert_eq!(generated.len(), 12, "{namespaces:?}");
    let workloads = sim.list_workloads(None, None, "").await.expect("lists");
    let app: Vec<_> = workloads
        .iter()
        .filter(|w| !standard.contains(&w.namespace))
        .collect();
    let of = |kind: WorkloadKind| app.iter().filter(|w| w.kind == kind).count();
    assert_eq!(app.len(), 48);
    assert_eq!(of(WorkloadKind::StatefulSet), 3);
    assert_eq!(of(WorkloadKind::DaemonSet), 2);
    assert_eq!(of(WorkloadKind::Deployment), 43);

    let report = rotor(&["simulate", "--scenario", &path_arg, "--output", "json"]);
    assert!(report.status.success(), "{report:?}");
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON report");
    assert_eq!(json["outcome"], "succeeded", "{json}");
    assert_eq!(json["outage"]["broken_pair_seconds"], 0.0, "{json}");
    assert_eq!(json["final"]["anchor_rotated"], true, "{json}");
    assert_eq!(
        json["final"]["proxies_trusting_retired_anchor"], 0,
        "{json}"
    );
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let flags = [
        "--namespaces",
        "8",
        "--workloads-per-namespace",
        "3",
        "--statefulsets",
        "2",
    ];
    let with_seed = |seed: &str| {
        let mut args = flags.to_vec();
        args.extend(["--seed", seed]);
        let out = generate(&args);
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    let a = with_seed("5");
    assert!(!a.is_empty());
    assert_eq!(a, with_seed("5"));
    assert_ne!(a, with_seed("6"));
}

#[test]
fn bad_flags_are_one_line_naming_the_flag() {
    let zero = one_line_error(&generate(&[
        "--namespaces",
        "0",
        "--workloads-per-namespace",
        "3",
    ]));
    assert!(zero.contains("--namespaces"), "{zero}");

    let too_many = one_line_error(&generate(&[
        "--namespaces",
        "2",
        "--workloads-per-namespace",
        "2",
        "--daemonsets",
        "5",
    ]));
    assert!(
        too_many.contains("--daemonsets") && too_many.contains("4 workloads"),
        "{too_many}"
    );

    let not_a_number = generate(&["--namespaces", "many", "--workloads-per-namespace", "3"]);
    assert_eq!(not_a_number.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&not_a_number.stderr);
    assert!(stderr.contains("--namespaces"), "{stderr}");

    let missing = generate(&["--namespaces", "3"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--workloads-per-namespace"), "{stderr}");
}

#[tokio::test]
async fn several_clusters_load_as_one_mesh_with_a_gateway_in_each() {
    for mode in ["gateway", "flat"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clusters.yaml");
        let path_arg = path.display().to_string();
        let out = generate(&[
            "--namespaces",
            "4",
            "--workloads-per-namespace",
            "2",
            "--clusters",
            "3",
            "--multicluster-mode",
            mode,
            "--output",
            &path_arg,
        ]);
        assert!(out.status.success(), "{out:?}");
        let note = String::from_utf8_lossy(&out.stderr);
        assert!(note.contains("3 clusters, 15 namespaces"), "{note}");
        let text = std::fs::read_to_string(&path).expect("scenario written");
        assert!(text.contains(&format!("mode: {mode}")), "{text}");
        let sim = MultiSim::from_yaml(&text).expect("the scenario loads");
        let clusters: Vec<(&str, bool)> = sim
            .clusters()
            .iter()
            .map(|m| (m.name.as_str(), m.home))
            .collect();
        assert_eq!(clusters, [("c1", true), ("c2", false), ("c3", false)]);
        for m in sim.clusters() {
            let gateway = m
                .cluster
                .get_workload(
                    WorkloadKind::Deployment,
                    "linkerd-multicluster",
                    "linkerd-gateway",
                )
                .await
                .expect("a gateway in every cluster");
            assert_eq!(gateway.ready, 1, "{}", m.name);
        }
        assert_eq!(sim.report().broken_pair_seconds, 0.0);
    }
    let refused = one_line_error(&generate(&[
        "--namespaces",
        "2",
        "--workloads-per-namespace",
        "2",
        "--clusters",
        "0",
    ]));
    assert!(refused.contains("--clusters"), "{refused}");
}
