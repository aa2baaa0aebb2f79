//! `rotor simulate` end to end for integrity and secrecy: a pinned policy
//! digest, a killed run resumed from its saved state, and a full rotation
//! whose every output is searched for the private keys it handled.

use crate::support;

use std::path::Path;
use std::process::Output;

use base64::Engine;
use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::runtime::DEFAULT_POLICY;
use sha2::{Digest, Sha256};

use support::rotor;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}", text(&output.stdout)))
}

/// The demo cluster written as a scenario file (its keys are then known).
fn demo_file(dir: &Path) -> String {
    let path = dir.join("demo.yaml");
    std::fs::write(&path, SimCluster::demo().state_yaml()).expect("write");
    path.display().to_string()
}

#[test]
fn a_policy_other_than_the_pinned_one_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.yaml");
    let zeros = "0".repeat(64);
    let out = rotor(&[
        "simulate",
        "--guest-sha256",
        &zeros,
        "--save-state",
        &state.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("SHA-256 is") && err.contains(&zeros) && err.contains("--guest-sha256"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no report: {out:?}");
    assert!(!state.exists(), "nothing ran, so no state was saved");

    let digest = hex::encode(Sha256::digest(DEFAULT_POLICY));
    let out = rotor(&["simulate", "--guest-sha256", &digest.to_uppercase()]);
    assert!(out.status.success(), "the matching digest runs: {out:?}");
}

#[test]
fn a_killed_simulation_resumes_from_its_saved_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let killed_state = dir.path().join("killed.yaml").display().to_string();
    let out = rotor(&[
        "simulate",
        "--output",
        "json",
        "--kill-after-mutations",
        "4",
        "--save-state",
        &killed_state,
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let killed = json(&out);
    assert_eq!(killed["outcome"], "failed");
    assert!(
        killed["error"]
            .to_string()
            .contains("killed after 4 mutations"),
        "{killed}"
    );
    assert_eq!(killed["outage"]["broken_pair_seconds"], 0.0);
    // Stopped mid-rotation: both anchors trusted, the issuer not yet renewed.
    assert_eq!(killed["final"]["bundle_anchors"], 2, "{killed}");
    assert_eq!(killed["final"]["issuer_rotated"], false, "{killed}");

    let out = rotor(&["simulate", "--output", "json", "--scenario", &killed_state]);
    assert!(out.status.success(), "{out:?}");
    let resumed = json(&out);
    assert_eq!(resumed["outage"]["broken_pair_seconds"], 0.0, "{resumed}");
    assert_eq!(resumed["final"]["anchor_rotated"], true, "{resumed}");
    assert_eq!(resumed["final"]["issuer_rotated"], true, "{resumed}");
    assert_eq!(resumed["final"]["bundle_anchors"], 1, "{resumed}");
}

/// Every form a key could leak in: the PEM, its base64 body lines, the
/// whole PEM base64-encoded (as in a Secret's `data`).
fn leak_forms(pem: &[u8]) -> Vec<String> {
    let pem = text(pem);
    let mut forms = vec![base64::engine::general_purpose::STANDARD.encode(pem.as_bytes())];
    forms.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    forms
}

async fn keys(cluster: &SimCluster) -> Vec<(String, Vec<u8>)> {
    let mut keys = Vec::new();
    for name in ["linkerd-trust-anchor", "linkerd-identity-issuer"] {
        for ns in ["cert-manager", "linkerd"] {
            if let Ok(secret) = cluster.read_secret(ns, name).await
                && let Some((_, key)) = secret.data.iter().find(|(k, _)| k == "tls.key")
            {
                keys.push((format!("{ns}/{name}"), key.clone()));
            }
        }
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_of_a_full_rotation_holds_a_private_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = demo_file(dir.path());
    let before =
        SimCluster::from_yaml(&std::fs::read_to_string(&scenario).expect("read")).expect("loads");
    let mut secrets = keys(&before).await;
    assert!(secrets.len() >= 2, "anchor and issuer keys: {secrets:?}");

    let state = dir.path().join("after.yaml").display().to_string();
    let mut outputs = Vec::new();
    for format in ["text", "json"] {
        let out = rotor(&[
            "-vv",
            "simulate",
            "--scenario",
            &scenario,
            "--output",
            format,
            "--save-state",
            &state,
        ]);
        assert!(out.status.success(), "{out:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("DEBUG"), "debug logs were on: {stderr}");
        outputs.push((format!("report ({format})"), text(&out.stdout)));
        outputs.push((format!("stderr at debug level ({format} run)"), stderr));
    }
    let after = SimCluster::from_yaml(&std::fs::read_to_string(&state).expect("state"))
        .expect("the saved state loads");
    secrets.extend(keys(&after).await);
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 4,
        "the rotation made new keys: {} distinct",
        secrets.len()
    );

    // Events the run recorded live in the cluster; the audit is in the report.
    let state_text = std::fs::read_to_string(&state).expect("state");
    let events: Vec<&str> = state_text
        .split("\n---")
        .filter(|doc| doc.contains("\nkind: Event"))
        .collect();
    assert!(!events.is_empty(), "the rotation recorded events");
    outputs.push(("events".into(), events.join("\n---")));

    for (owner, key) in &secrets {
        for form in leak_forms(key) {
            for (what, output) in &outputs {
                assert!(
                    !output.contains(&form),
                    "the private key of {owner} appears in {what}"
                );
            }
        }
    }
}

/// `plan`, `status`, `run` and `test` against a cluster served by the test
/// API server: no output holds a PEM private key, nor any form of the keys
/// cert-manager wrote, except cert-manager's own Secrets in the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_of_plan_status_run_or_test_holds_a_private_key() {
    let sim = support::demo_in_the_present();
    let mut secrets = keys(&sim).await;
    assert!(secrets.len() >= 2, "anchor and issuer keys: {secrets:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, kc) = support::serve_with_kubeconfig(sim.clone(), dir.path()).await;
    let kc = kc.display().to_string();
    let saved = dir.path().join("plan.yaml").display().to_string();
    let scenario = demo_file(dir.path());

    let commands: Vec<Vec<String>> = vec![
        vec![
            "-vv",
            "plan",
            "--kubeconfig",
            &kc,
            "--save-scenario",
            &saved,
        ],
        vec!["-vv", "plan", "--kubeconfig", &kc, "--output", "json"],
        vec!["-vv", "status", "--kubeconfig", &kc],
        vec!["-vv", "status", "--kubeconfig", &kc, "--output", "json"],
        vec![
            "-vv",
            "status",
            "--kubeconfig",
            &kc,
            "--output",
            "prometheus",
        ],
        vec!["-vv", "run", "--kubeconfig", &kc, "--output", "json"],
        vec!["-vv", "status", "--kubeconfig", &kc, "--output", "json"],
        vec!["-vv", "test", &scenario],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect();
    let mut outputs = Vec::new();
    for args in commands {
        let out = tokio::task::spawn_blocking({
            let args = args.clone();
            move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_rotor"))
                    .arg("--no-cache")
                    .args(&args)
                    .output()
                    .expect("rotor runs")
            }
        })
        .await
        .expect("joined");
        let what = args.join(" ");
        if args.contains(&"run".to_string()) {
            assert!(out.status.success(), "{what}: {out:?}");
        }
        outputs.push((format!("stdout of {what}"), text(&out.stdout)));
        outputs.push((format!("stderr of {what}"), text(&out.stderr)));
    }
    outputs.push((
        "the saved plan".into(),
        std::fs::read_to_string(&saved).expect("plan saved"),
    ));
    // Events rotor recorded in the cluster.
    let events = serde_json::to_string(&server.stored("events.k8s.io/events", None)).unwrap();
    outputs.push(("events".into(), events));
    secrets.extend(keys(&sim).await);
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 4,
        "the run made new keys: {}",
        secrets.len()
    );

    for (what, output) in &outputs {
        assert!(
            !rotor::x509::contains_private_key(output.as_bytes()),
            "a PEM private key in {what}"
        );
        for (owner, key) in &secrets {
            for form in leak_forms(key) {
                assert!(
                    !output.contains(&form),
                    "the private key of {owner} appears in {what}"
                );
            }
        }
    }
}
