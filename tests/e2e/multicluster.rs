//! A multicluster mesh on two real control planes: the home cluster, whose
//! cert-manager issues the trust anchor, and a member holding a copy of it
//! with its own identity issuer (the chart in member role). One `rotor run`
//! over both, with each cluster's ServiceAccount under the chart's RBAC.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::cluster::{ControlPlane, Setup};
use super::{
    bodies, bundle, cronjob_args, json_report, lease_holder, rotor, secret_cert, text, wait_until,
};

/// One kubeconfig with a context per cluster, each authenticating as
/// rotor's ServiceAccount there, or as the operator (`admin`).
fn kubeconfig(path: &Path, clusters: &[(&str, &ControlPlane)], admin: bool) {
    let mut entries = (String::new(), String::new(), String::new());
    for (name, cp) in clusters {
        let pki = cp.dir.path().join("pki");
        let user = if admin {
            format!(
                "{{client-certificate: {}, client-key: {}}}",
                pki.join("admin.crt").display(),
                pki.join("admin.key").display()
            )
        } else {
            let token = cp.kubectl(&[
                "-n",
                "rotor-system",
                "create",
                "token",
                "rotor",
                "--duration=2h",
            ]);
            let token = String::from_utf8(token.stdout).expect("token");
            format!("{{token: {}}}", token.trim())
        };
        entries.0 += &format!(
            "- name: {name}\n  cluster: {{server: {}, certificate-authority: {}}}\n",
            cp.server,
            pki.join("ca.crt").display()
        );
        entries.1 += &format!("- name: {name}\n  user: {user}\n");
        entries.2 += &format!("- name: {name}\n  context: {{cluster: {name}, user: {name}}}\n");
    }
    let (clusters_yaml, users, contexts) = entries;
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters_yaml}users:\n{users}contexts:\n{contexts}current-context: {}\n",
            clusters[0].0
        ),
    )
    .expect("write kubeconfig");
}

/// The home CronJob's arguments with its run configuration extended to
/// both clusters, as the chart's management role writes it: east the home,
/// west a member that may also replace its copy of the anchor.
fn run_args(home: &ControlPlane) -> Vec<String> {
    let mut args = cronjob_args(home);
    let at = args.iter().position(|a| a == "--config").expect("--config") + 1;
    let chart: Value =
        serde_norway::from_str(&std::fs::read_to_string(&args[at]).expect("chart config"))
            .expect("config YAML");
    let mut config = chart.clone();
    let mut member = chart["grants"].clone();
    member["writeSecrets"]
        .as_array_mut()
        .expect("writeSecrets")
        .push("cert-manager/linkerd-trust-anchor".into());
    config["clusters"] = serde_json::json!([
        {"name": "east", "context": "east", "home": true},
        {"name": "west", "context": "west", "grants": member},
    ]);
    let path = home.dir.path().join("multicluster.yaml");
    std::fs::write(&path, config.to_string()).expect("write config");
    args[at] = path.display().to_string();
    args
}

/// The UIDs of the meshed pods.
fn meshed_pods(cp: &ControlPlane) -> BTreeSet<String> {
    let out = cp.kubectl(&[
        "-n",
        "shop",
        "get",
        "pods",
        "-o",
        "jsonpath={.items[*].metadata.uid}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The rotor ServiceAccount's requests that changed something other than
/// its run lock.
fn rotor_writes(cp: &ControlPlane) -> Vec<String> {
    cp.audit()
        .iter()
        .filter(|e| e["user"]["username"] == "system:serviceaccount:rotor-system:rotor")
        .filter(|e| !matches!(e["verb"].as_str(), Some("get" | "list" | "watch")))
        .filter(|e| e["objectRef"]["resource"] != "leases")
        .map(|e| format!("{} {}", e["verb"], e["requestURI"]))
        .collect()
}

fn previous_anchor(cp: &ControlPlane, pem: &str) {
    use base64::Engine;
    let crt = base64::engine::general_purpose::STANDARD.encode(pem);
    cp.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: linkerd-previous-anchor, namespace: cert-manager}}\ntype: Opaque\ndata:\n  tls.crt: {crt}\n"
    ));
}

/// A member whose anchor is its own (its trust roots share nothing with the
/// home's, or only its anchor Secret differs) is refused, naming both
/// clusters, before anything is written; back on the shared anchor, one run
/// rotates both clusters: the member's anchor becomes a copy of the home's
/// new one, each cluster trusts the new anchor alone, the member's issuer
/// is signed by it, the meshed pods are restarted and the locks released.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn one_run_rotates_a_home_and_a_member_cluster_onto_a_new_shared_anchor() {
    let began = Instant::now();
    let east = ControlPlane::up();
    let west = ControlPlane::up_with(Setup::member_of(&east));
    eprintln!("two control planes dressed in {:?}", began.elapsed());
    let old_anchor = secret_cert(&east, "cert-manager", "linkerd-trust-anchor");
    let shared = west.anchor_secret_data();
    assert_eq!(
        shared,
        east.anchor_secret_data(),
        "west holds east's anchor"
    );
    assert_eq!(bodies(&bundle(&west)), bodies(&old_anchor));
    assert!(
        rotor::x509::verify_signed_by(
            &secret_cert(&west, "linkerd", "linkerd-identity-issuer"),
            &old_anchor
        )
        .expect("verifies"),
        "west's issuer is signed by the shared anchor"
    );

    // `status` with the operator's credentials; `run` with rotor's.
    let mesh = [("east", &east), ("west", &west)];
    let operator = east.dir.path().join("operator.kubeconfig");
    kubeconfig(&operator, &mesh, true);
    let kubeconfig_path = east.dir.path().join("rotor-mesh.kubeconfig");
    kubeconfig(&kubeconfig_path, &mesh, false);
    let kubeconfig = kubeconfig_path.as_path();
    let args = run_args(&east);
    let config = args[args.iter().position(|a| a == "--config").unwrap() + 1].clone();

    let status = rotor(&operator, &["status".into(), "--config".into(), config])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        String::from_utf8_lossy(&status.stdout)
            .starts_with("status: ok\nclusters: east (home): ok, west: ok\n"),
        "{}",
        text(&status)
    );

    // West on an anchor of its own: refused, naming both clusters, with
    // nothing written but the run locks.
    let own_crt = std::fs::read_to_string(west.dir.path().join("pki/ca.crt")).expect("CA");
    let own_key = std::fs::read_to_string(west.dir.path().join("pki/ca.key")).expect("CA key");
    let own = {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        serde_json::json!({"tls.crt": b64(&own_crt), "tls.key": b64(&own_key), "ca.crt": b64(&own_crt)})
    };
    let refused = |what: &str| {
        let out = rotor(kubeconfig, &args).output().unwrap();
        assert!(!out.status.success(), "{what}: {}", text(&out));
        // The host's refusal is an error line; the policy's, the report's.
        let err = String::from_utf8_lossy(&out.stderr);
        let line = match err.lines().find(|l| l.starts_with("error: ")) {
            Some(line) => line.to_string(),
            None => json_report(&out)["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no error: {}", text(&out)))
                .to_string(),
        };
        for (name, cp) in [("east", &east), ("west", &west)] {
            assert!(
                rotor_writes(cp).is_empty(),
                "{what}: {name} was written to: {:#?}\n{line}",
                rotor_writes(cp)
            );
            assert!(lease_holder(cp).is_empty(), "{what}: {name}'s lock held");
        }
        assert_eq!(
            bodies(&secret_cert(&east, "cert-manager", "linkerd-trust-anchor")),
            bodies(&old_anchor),
            "{what}"
        );
        assert_eq!(west.anchor_secret_data(), own, "{what}");
        assert!(
            line.contains("east") && line.contains("west"),
            "{what}: {line}"
        );
        line
    };
    // Its anchor and previous anchor: its trust roots share nothing with
    // east's.
    west.write_anchor_secret(&own);
    previous_anchor(&west, &own_crt);
    wait_until("west's trust roots to hold its own anchor", || {
        bodies(&bundle(&west)) == bodies(&own_crt)
    });
    let line = refused("west trusts its own anchor alone");
    assert!(
        line.contains("do not share a trust anchor")
            && line.contains("west trusts no anchor that east trusts"),
        "{line}"
    );
    // Its anchor Secret alone: its trust roots hold the shared anchor too,
    // as the previous one.
    previous_anchor(&west, &old_anchor);
    let both: BTreeSet<String> = bodies(&own_crt)
        .into_iter()
        .chain(bodies(&old_anchor))
        .collect();
    wait_until("west's trust roots to hold both anchors", || {
        bodies(&bundle(&west)).into_iter().collect::<BTreeSet<_>>() == both
    });
    refused("west's anchor Secret differs from east's");

    // Back on the shared anchor.
    west.write_anchor_secret(&shared);
    previous_anchor(&west, &old_anchor);
    wait_until("west's trust roots to hold the shared anchor", || {
        bodies(&bundle(&west)) == bodies(&old_anchor)
    });
    let pods_before = [meshed_pods(&east), meshed_pods(&west)];

    let started = Instant::now();
    let run = rotor(kubeconfig, &args).output().unwrap();
    eprintln!("rotor run over two clusters took {:?}", started.elapsed());
    assert!(run.status.success(), "{}", text(&run));
    let report = json_report(&run);
    assert_eq!(report["outcome"], "succeeded", "{report:#}");

    let new_anchor = secret_cert(&east, "cert-manager", "linkerd-trust-anchor");
    assert_ne!(
        bodies(&new_anchor),
        bodies(&old_anchor),
        "the anchor rotated"
    );
    assert_eq!(
        west.anchor_secret_data(),
        east.anchor_secret_data(),
        "west's anchor is a copy of east's new one"
    );
    for (name, cp) in [("east", &east), ("west", &west)] {
        assert_eq!(
            bodies(&bundle(cp)),
            bodies(&new_anchor),
            "{name} trusts the new anchor alone"
        );
        assert!(lease_holder(cp).is_empty(), "{name}: {}", lease_holder(cp));
    }
    for (name, cp) in [("east", &east), ("west", &west)] {
        assert!(
            rotor::x509::verify_signed_by(
                &secret_cert(cp, "linkerd", "linkerd-identity-issuer"),
                &new_anchor
            )
            .expect("verifies"),
            "{name}'s issuer is signed by the new anchor"
        );
    }
    for ((name, cp), before) in [("east", &east), ("west", &west)]
        .into_iter()
        .zip(pods_before)
    {
        let after = meshed_pods(cp);
        assert!(
            !before.is_empty() && before.is_disjoint(&after),
            "{name}: meshed pods not all restarted: {before:?} then {after:?}"
        );
    }
    eprintln!("test took {:?}", began.elapsed());
}
