//! `rotor simulate` end to end, through the built binary: the default policy
//! on the demo cluster, dry runs, and one-line errors for bad input.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use rotor::cluster::sim::SimCluster;
use rotor::runtime::GUESTS_DIR;

use support::{one_line_error, rotor};

fn hostile() -> String {
    Path::new(GUESTS_DIR)
        .join("hostile.wasm")
        .display()
        .to_string()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn default_policy_succeeds_on_the_demo_cluster() {
    let output = rotor(&["simulate", "--output", "json"]);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["error"], serde_json::Value::Null);
    assert_eq!(report["backend"], "simulated");
    assert_eq!(report["dry_run"], false);
    for key in [
        "policy",
        "started_at",
        "finished_at",
        "wall_ms",
        "calls",
        "steps",
        "summary",
        "audit",
        "dry_run_mutations",
        "virtual_seconds",
        "outage",
        "pods_never_ready",
        "final",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}: {report}");
    }
    assert_eq!(report["policy"]["sha256"].as_str().map(str::len), Some(64));
    assert!(report["calls"]["total"].as_u64() > Some(0));
    assert_eq!(report["calls"]["denied"], 0);
}

#[test]
fn text_report_leads_with_the_outcome() {
    let output = rotor(&["simulate"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("rotor: succeeded: "), "{text}");
    assert!(text.contains("\ncalls: "), "{text}");
    assert!(text.contains("\nsimulation:\n"), "{text}");
}

/// A script that "succeeds" while breaking traffic is flagged on the line
/// after the outcome, and the JSON carries the outage and the watch after
/// the run that caught it.
#[test]
fn outage_is_flagged_even_when_the_policy_succeeds() {
    let blog = Path::new(GUESTS_DIR)
        .join("blog_order.wasm")
        .display()
        .to_string();
    let output = rotor(&["simulate", "--guest", &blog]);
    let text = String::from_utf8_lossy(&output.stdout);
    let second = text.lines().nth(1).unwrap_or_default();
    assert!(
        second.starts_with("rotor: WARNING: meshed traffic failed"),
        "{text}"
    );

    let output = rotor(&["simulate", "--guest", &blog, "--output", "json"]);
    let report = json(&output);
    assert!(report["outage"]["broken_pair_seconds"].as_f64() > Some(0.0));
    assert!(
        report["after_run_seconds"].as_i64() >= Some(300),
        "{report}"
    );
}

/// The demo cluster saved as a scenario file, and its state as loaded back.
fn saved_demo(dir: &Path) -> (String, String) {
    let scenario = write(dir, "before.yaml", &SimCluster::demo().state_yaml());
    let text = std::fs::read_to_string(&scenario).expect("read");
    let loaded = SimCluster::from_yaml(&text).expect("the saved state loads");
    (scenario, loaded.state_yaml())
}

/// Run the hostile policy's "mutate" mode on a saved demo cluster; return
/// the report, and the state before and after.
fn mutate(dry_run: bool) -> (Output, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (scenario, before) = saved_demo(dir.path());
    let config = write(dir.path(), "run.yaml", "policy: mutate\n");
    let after = dir.path().join("after.yaml").display().to_string();
    let guest = hostile();
    let mut args = vec![
        "simulate",
        "--guest",
        &guest,
        "--config",
        &config,
        "--scenario",
        &scenario,
        "--output",
        "json",
        "--save-state",
        &after,
    ];
    if dry_run {
        args.push("--dry-run");
    }
    let output = rotor(&args);
    let after = std::fs::read_to_string(&after).expect("state saved");
    (output, before, after)
}

#[test]
fn dry_run_changes_nothing_in_the_cluster() {
    let (output, before, after) = mutate(true);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["dry_run"], true);
    let facts = report["summary"]["facts"].as_array().expect("facts");
    assert!(
        facts
            .iter()
            .any(|f| f["key"] == "dry-run" && f["value"] == "true"),
        "{facts:?}"
    );
    let held: Vec<&str> = report["dry_run_mutations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["primitive"].as_str())
        .collect();
    for primitive in [
        "write-secret",
        "renew-certificate",
        "restart-workload",
        "delete-pod",
        "record-event",
        "save-progress",
    ] {
        assert!(
            held.contains(&primitive),
            "{primitive} not held back: {held:?}"
        );
    }
    assert!(before == after, "dry run changed the cluster state");
}

#[test]
fn default_policy_dry_run_changes_nothing_in_the_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (scenario, before) = saved_demo(dir.path());
    let after = dir.path().join("after.yaml").display().to_string();
    let output = rotor(&[
        "simulate",
        "--scenario",
        &scenario,
        "--dry-run",
        "--output",
        "json",
        "--save-state",
        &after,
    ]);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert!(
        report["dry_run_mutations"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    let after = std::fs::read_to_string(&after).expect("state saved");
    assert!(before == after, "dry run changed the cluster state");
}

#[test]
fn the_same_mutations_without_dry_run_do_change_the_cluster() {
    let (output, before, after) = mutate(false);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert!(report["calls"]["mutations"].as_u64() >= Some(5), "{report}");
    assert!(
        report["dry_run_mutations"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    assert!(before != after, "the mutations reached the cluster");
    // The Secret the policy copied (a private key among it) is not reported.
    assert!(!String::from_utf8_lossy(&output.stdout).contains("PRIVATE KEY"));
}

#[test]
fn panic_message_appears_in_the_report_and_the_run_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "run.yaml", "policy: panic\n");
    let output = rotor(&[
        "simulate",
        "--guest",
        &hostile(),
        "--config",
        &config,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = json(&output);
    assert_eq!(report["outcome"], "failed");
    let error = report["error"].as_str().expect("error string");
    assert!(
        error.contains("hostile guest panicked on purpose"),
        "{error}"
    );
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn malformed_scenario_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: [unclosed\n",
    );
    let error = one_line_error(&rotor(&["simulate", "--scenario", &scenario]));
    assert!(
        error.starts_with(&format!("error: scenario {scenario}: ")),
        "{error}"
    );
}

#[test]
fn malformed_config_is_one_line_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "run.yaml", "limits:\n  cpuSecs: 5\n");
    let error = one_line_error(&rotor(&["simulate", "--config", &config]));
    assert!(
        error.starts_with(&format!("error: config {config}: ")),
        "{error}"
    );
    assert!(error.contains("cpuSecs"), "{error}");
}

#[test]
fn a_configuration_of_several_clusters_is_refused_not_simulated_as_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "run.yaml",
        "clusters:\n- {name: east, context: east, home: true}\n- {name: west, context: west}\n",
    );
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/examples/canary-first")
        .display()
        .to_string();
    for command in ["simulate", "test"] {
        let mut args = vec![command, "--config", &config];
        if command == "test" {
            args.push(&scenarios);
        }
        let error = one_line_error(&rotor(&args));
        assert!(
            error.contains(&format!("`rotor {command}` simulates one cluster"))
                && error.contains("lists 2 clusters"),
            "{error}"
        );
    }
}

#[test]
fn missing_config_file_is_one_line() {
    let error = one_line_error(&rotor(&["simulate", "--config", "/nonexistent/run.yaml"]));
    assert!(
        error.starts_with("error: config /nonexistent/run.yaml: cannot read"),
        "{error}"
    );
}

#[test]
fn non_component_guest_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = write(dir.path(), "policy.wasm", "this is not wasm");
    let error = one_line_error(&rotor(&["simulate", "--guest", &garbage]));
    assert!(error.contains("not a WebAssembly component"), "{error}");

    let core = dir.path().join("core.wasm");
    std::fs::write(
        &core,
        wat::parse_file(fixture("core-module.wat")).expect("assembles"),
    )
    .expect("write");
    let error = one_line_error(&rotor(&[
        "simulate",
        "--guest",
        &core.display().to_string(),
    ]));
    assert!(
        error.contains("core WebAssembly module, not a component"),
        "{error}"
    );
}

#[test]
fn policy_for_a_newer_wit_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = dir.path().join("newer.wasm");
    std::fs::write(
        &newer,
        wat::parse_file(fixture("newer-wit.wat")).expect("assembles"),
    )
    .expect("write");
    let error = one_line_error(&rotor(&[
        "simulate",
        "--guest",
        &newer.display().to_string(),
    ]));
    assert_eq!(
        error,
        "error: policy needs a newer rotor: it imports rotor:policy/clock@0.2.0, this rotor provides rotor:policy@0.1.6"
    );
}

/// A scenario of several clusters: the default policy rotates every cluster
/// and the report gives each cluster's outage and the pairs across them.
#[test]
fn a_scenario_of_three_clusters_rotates_them_all() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/multicluster/three-clusters.yaml")
        .display()
        .to_string();
    let output = rotor(&["simulate", "--output", "json", "--scenario", &scenario]);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["outcome"], "succeeded");
    let mc = &report["multicluster"];
    let clusters: Vec<(&str, bool)> = mc["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["home"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        clusters,
        [("east", true), ("west", false), ("north", false)]
    );
    for c in mc["clusters"].as_array().unwrap() {
        assert_eq!(c["simulation"]["final"]["anchor_rotated"], true, "{c}");
        assert_eq!(c["simulation"]["final"]["issuer_rotated"], true, "{c}");
    }
    assert_eq!(mc["cross_cluster"]["broken_pair_seconds"], 0.0);
    assert_eq!(mc["broken_pair_seconds"], 0.0);

    let text = rotor(&["simulate", "--scenario", &scenario]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("simulation of 3 clusters:"), "{stdout}");
    assert!(stdout.contains("cluster west:"), "{stdout}");
    assert!(stdout.contains("across clusters: no outage"), "{stdout}");
}
