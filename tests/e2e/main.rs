//! rotor against a real control plane: a real kube-apiserver with etcd,
//! controller-manager and scheduler, kwok's nodes and kubelets, the real
//! cert-manager and trust-manager, rotor's chart rendered by the real helm,
//! and stand-ins for Linkerd's identity and proxy injector
//! (`tests/e2e/linkerd.rs`: Linkerd's code is not available here).
//!
//! Each test brings its own control plane up (`tests/e2e/control-plane.sh`,
//! binaries built by `.ci/build-control-plane.sh`) and tears it down. They
//! are ignored by a plain `cargo test`: `.ci/run` builds the binaries and
//! runs them with `--ignored`.

mod cluster;
mod linkerd;
mod multicluster;

#[path = "../support/chart_rules.rs"]
mod chart_rules;
#[path = "../support/rotation_events.rs"]
mod rotation_events;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chart_rules::{
    UNUSED_BY_THE_DEFAULT_RUN, UNUSED_IN_CLUSTER_MODE, UNUSED_IN_THE_END_TO_END_RUN, Unused,
};
use cluster::{ControlPlane, Setup};
use rotor::testing::rbac::{Rbac, RequestAttributes, RuleUnit, ServiceAccount};
use rotor::testing::registry::{Cosign, Registry};
use serde::Deserialize;
use serde_json::Value;

/// The CronJob's own command line, with its config file written out.
fn cronjob_args(cp: &ControlPlane) -> Vec<String> {
    let cronjob = cp.kubectl(&[
        "-n",
        "rotor-system",
        "get",
        "cronjob",
        "rotor",
        "-o",
        "json",
    ]);
    let cronjob: Value = serde_json::from_slice(&cronjob.stdout).expect("CronJob JSON");
    let container = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    let config = cp.kubectl(&[
        "-n",
        "rotor-system",
        "get",
        "configmap",
        "rotor-config",
        "-o",
        "jsonpath={.data.config\\.yaml}",
    ]);
    let config_path = cp.dir.path().join("config.yaml");
    std::fs::write(&config_path, &config.stdout).expect("write config");
    container["args"]
        .as_array()
        .expect("CronJob args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .map(|a| {
            if a == "/etc/rotor/config.yaml" {
                config_path.display().to_string()
            } else {
                a
            }
        })
        .collect()
}

fn rotor(kubeconfig: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotor"));
    cmd.arg("--no-cache")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("ROTOR_CACHE_DIR");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The reasons of the Events about one object.
fn event_reasons(cp: &ControlPlane, ns: &str, kind: &str, name: &str) -> BTreeSet<String> {
    let out = cp.kubectl(&["-n", ns, "get", "events", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("Event list JSON");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .filter_map(|e| e["reason"].as_str().map(String::from))
        .collect()
}

fn secret_cert(cp: &ControlPlane, ns: &str, name: &str) -> String {
    cp.secret_cert(ns, name)
}

fn bundle(cp: &ControlPlane) -> String {
    cp.trust_roots()
}

/// Base64 bodies of the certificates in a PEM text.
fn bodies(pem: &str) -> Vec<String> {
    pem.split("-----END CERTIFICATE-----")
        .filter_map(|b| b.split("-----BEGIN CERTIFICATE-----").nth(1))
        .map(|b| b.split_whitespace().collect())
        .collect()
}

fn step_names(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().expect("step name").to_string())
        .collect()
}

fn restarts(report: &Value) -> u64 {
    report["calls"]["by_primitive"]["restart-workload"]
        .as_u64()
        .unwrap_or(0)
}

fn lease_holder(cp: &ControlPlane) -> String {
    let out = Command::new(&cp.kubectl)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args([
            "-n",
            "rotor-system",
            "get",
            "lease",
            "rotor",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .output()
        .expect("kubectl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Linkerd installed without trust-manager: the trust-roots ConfigMap as
/// Linkerd's chart renders it, the chart told `bundle.writer: rotor`. The
/// CronJob's run, under the chart's RBAC on the real API server, rotates
/// with rotor writing the ConfigMap itself, and leaves it holding the new
/// anchor alone with Linkerd's labels and no trust-manager mark.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn without_trust_manager_rotor_writes_linkerds_trust_roots() {
    let cp = ControlPlane::up_with(Setup::without_trust_manager());
    let kubeconfig = cp.service_account_kubeconfig();
    let old_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_eq!(bodies(&bundle(&cp)), bodies(&old_anchor));

    let run = rotor(&kubeconfig, &cronjob_args(&cp)).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let report = json_report(&run);
    assert_eq!(report["outcome"], "succeeded", "{report:#}");

    let new_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_ne!(
        bodies(&new_anchor),
        bodies(&old_anchor),
        "the anchor rotated"
    );
    assert_eq!(
        bodies(&bundle(&cp)),
        bodies(&new_anchor),
        "the trust roots hold the new anchor alone"
    );
    let cm = cp.kubectl(&[
        "-n",
        "linkerd",
        "get",
        "configmap",
        "linkerd-identity-trust-roots",
        "-o",
        "json",
    ]);
    let cm: Value = serde_json::from_slice(&cm.stdout).expect("ConfigMap JSON");
    let labels = &cm["metadata"]["labels"];
    assert_eq!(
        labels["linkerd.io/control-plane-component"], "identity",
        "{cm:#}"
    );
    assert!(
        labels.get("trust.cert-manager.io/bundle").is_none()
            && cm["metadata"]["annotations"]
                .get("trust.cert-manager.io/hash")
                .is_none(),
        "{cm:#}"
    );
}

/// A staged anchor (`stagedAnchor.enabled`): the chart's second anchor
/// Certificate in the Bundle, the CronJob's run rotating in `mode: staged`
/// under the chart's RBAC. Against the real cert-manager: the CA
/// ClusterIssuer, patched to the next anchor's Secret, signs identity's new
/// issuer with it; the retired anchor's renewal is the new next anchor;
/// trust-manager's bundle ends holding the new pair.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn a_staged_anchor_rotates_through_the_real_cert_manager() {
    let cp = ControlPlane::up_with(Setup {
        chart_values: vec!["stagedAnchor.enabled=true"],
        ..Setup::default()
    });
    let kubeconfig = cp.service_account_kubeconfig();
    let current = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    let next = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor-next");
    let both: BTreeSet<String> = bodies(&current).into_iter().chain(bodies(&next)).collect();
    let held: BTreeSet<String> = bodies(&bundle(&cp)).into_iter().collect();
    assert_eq!(held, both, "the Bundle holds both anchors to start");

    let run = rotor(&kubeconfig, &cronjob_args(&cp)).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let report = json_report(&run);
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    let steps = step_names(&report);
    for step in [
        "switch-signing-anchor",
        "renew-retired-anchor",
        "bundle-holds-new-pair",
    ] {
        assert!(steps.iter().any(|s| s == step), "{step}: {steps:?}");
    }

    let issuer = cp.kubectl(&[
        "get",
        "clusterissuer",
        "linkerd-identity-issuer",
        "-o",
        "jsonpath={.spec.ca.secretName}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&issuer.stdout),
        "linkerd-trust-anchor-next"
    );
    let identity_issuer = secret_cert(&cp, "linkerd", "linkerd-identity-issuer");
    assert!(
        rotor::x509::verify_signed_by(&identity_issuer, &next).expect("verifies"),
        "identity's issuer is signed by the next anchor"
    );
    let renewed = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_ne!(
        bodies(&renewed),
        bodies(&current),
        "the retired anchor renewed"
    );
    let pair: BTreeSet<String> = bodies(&renewed).into_iter().chain(bodies(&next)).collect();
    wait_until("the bundle to hold the new pair", || {
        bodies(&bundle(&cp)).into_iter().collect::<BTreeSet<_>>() == pair
    });
}

/// The whole default rotation as the CronJob runs it, with the chart's
/// ServiceAccount under the real RBAC; `plan` predicted it; `status`
/// before, during and after (with an operator's credentials); a second
/// run is refused while the first holds the lease; the Events it left;
/// every request rotor made was allowed, and every rule of the chart was
/// used or is documented as unused.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn the_cronjob_rotates_a_real_control_plane() {
    let cp = ControlPlane::up();
    let kubeconfig = cp.service_account_kubeconfig();
    let old_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_eq!(
        bodies(&bundle(&cp)),
        bodies(&old_anchor),
        "one anchor to start"
    );

    // `status` and `plan` run with the operator's own credentials (the chart
    // grants the CronJob only what `run` needs).
    let admin = cp.kubeconfig.clone();
    let status = rotor(&admin, &["status".into()]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status));

    let args = cronjob_args(&cp);
    let mut plan_args = args.clone();
    plan_args[0] = "plan".into();
    let plan = rotor(&admin, &plan_args).output().unwrap();
    assert!(plan.status.success(), "{}", text(&plan));
    let plan = json_report(&plan);

    let run_args = args.clone();
    let began = Instant::now();
    let first = rotor(&kubeconfig, &run_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rotor run starts");
    // While it holds the lease, a second run is refused and names the holder.
    wait_until("the run lock to be taken", || !lease_holder(&cp).is_empty());
    let second = rotor(&kubeconfig, &run_args).output().unwrap();
    assert!(!second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("held by"),
        "{}",
        text(&second)
    );
    // `status` meanwhile says a rotation is in progress, by whom, with an
    // exit code of its own.
    let during = rotor(&admin, &["status".into()]).output().unwrap();
    assert_eq!(during.status.code(), Some(3), "{}", text(&during));
    let during_text = String::from_utf8_lossy(&during.stdout);
    let holder = lease_holder(&cp);
    assert!(!holder.is_empty(), "the run still holds the lease");
    assert!(
        during_text.starts_with("status: rotation in progress")
            && during_text.contains(&format!("run by {holder}")),
        "{}",
        text(&during)
    );
    let run = first.wait_with_output().unwrap();
    eprintln!("rotor run took {:?}", began.elapsed());
    assert!(run.status.success(), "{}", text(&run));
    let report = json_report(&run);
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    assert_eq!(report["backend"], "kubernetes", "{report:#}");

    // The CronJob's log (stderr, not a terminal) says where the run stood:
    // each step's start and end, each batch of restarts, in order, and the gates it
    // waited on (which gates wait depends on how fast the controllers
    // answer; replacing deleted OnDelete pods always takes a while).
    let log = String::from_utf8_lossy(&run.stderr);
    let mut at = 0;
    for want in [
        "step preflight started",
        "step renew-anchor started",
        "step trust-new-anchor/control-plane started",
        " rolling out, 0 of ",
        "step drop-old-anchor/data-plane ended ok",
    ] {
        let found = log[at..]
            .find(want)
            .unwrap_or_else(|| panic!("no {want:?} after byte {at}:\n{log}"));
        at += found + want.len();
    }
    let waiting = log.find("waiting on gate").expect("a gate waited");
    assert!(
        waiting > log.find("step preflight ended").expect("preflight ended") && waiting < at,
        "{log}"
    );

    // The plan predicted the steps and the restarts the run made.
    assert_eq!(step_names(&plan), step_names(&report));
    assert_eq!(restarts(&plan), restarts(&report), "restarts predicted");
    assert!(restarts(&report) > 0);

    // The mesh trusts the new anchor alone; previous-anchor holds it too.
    let new_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_ne!(bodies(&new_anchor), bodies(&old_anchor));
    assert_eq!(bodies(&bundle(&cp)), bodies(&new_anchor));
    assert_eq!(
        bodies(&secret_cert(&cp, "cert-manager", "linkerd-previous-anchor")),
        bodies(&new_anchor)
    );
    // ...as a certificate only: the anchor's key stays in its own Secret.
    let previous = cp.kubectl(&[
        "-n",
        "cert-manager",
        "get",
        "secret",
        "linkerd-previous-anchor",
        "-o",
        "json",
    ]);
    let previous: Value = serde_json::from_slice(&previous.stdout).expect("Secret JSON");
    assert_eq!(previous["type"], "Opaque", "{previous:#}");
    let keys: Vec<&String> = previous["data"].as_object().expect("data").keys().collect();
    assert_eq!(keys, ["tls.crt"], "{previous:#}");
    // The lease is free for the next run.
    assert!(lease_holder(&cp).is_empty(), "{}", lease_holder(&cp));

    // The Events the run left, as `kubectl get events` shows them: each
    // phase on the anchor Certificate, and a restart on each workload.
    let on_anchor = event_reasons(&cp, "cert-manager", "Certificate", "linkerd-trust-anchor");
    let wanted = ["RotationStarted", "RotationSucceeded"];
    for reason in wanted.iter().chain(rotation_events::DEFAULT_PHASES) {
        assert!(on_anchor.contains(*reason), "no {reason}: {on_anchor:?}");
    }
    for bad in ["RotationFailed", "StepFailed"] {
        assert!(!on_anchor.contains(bad), "{bad}: {on_anchor:?}");
    }
    for (kind, name) in [
        ("Deployment", "web"),
        ("StatefulSet", "ledger"),
        ("DaemonSet", "agent"),
        ("DaemonSet", "collector"),
    ] {
        let reasons = event_reasons(&cp, "shop", kind, name);
        assert!(
            reasons.contains("WorkloadRestarted"),
            "{kind} shop/{name}: {reasons:?}"
        );
    }

    let after = rotor(&admin, &["status".into()]).output().unwrap();
    assert!(after.status.success(), "{}", text(&after));
    assert!(
        String::from_utf8_lossy(&after.stdout).starts_with("status: ok"),
        "{}",
        text(&after)
    );

    a_cluster_bundle_is_never_written(&cp);

    // Every request rotor made with its ServiceAccount was allowed by the
    // real RBAC of the chart.
    let user = "system:serviceaccount:rotor-system:rotor";
    let audit = cp.audit();
    let mine: Vec<&Value> = audit
        .iter()
        .filter(|e| e["user"]["username"] == user)
        .collect();
    assert!(mine.len() > 20, "{} requests by {user}", mine.len());
    let denied: Vec<String> = mine
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 403)
        .map(|e| format!("{} {}", e["verb"], e["requestURI"]))
        .collect();
    assert!(denied.is_empty(), "denied: {denied:#?}");
    chart_rules_are_used(&cp, &mine);
}

/// trust-manager v0.25.0 serves ClusterBundles but writes no target for
/// them, the fact the simulator and `rotor status` rest on: of a Bundle and
/// a ClusterBundle with the same source and target, only the Bundle's
/// ConfigMap appears, and the ClusterBundle gets no condition.
fn a_cluster_bundle_is_never_written(cp: &ControlPlane) {
    let target = |name: &str| {
        format!(
            "  target:\n    namespaceSelector:\n      matchExpressions:\n      - {{key: kubernetes.io/metadata.name, operator: In, values: [shop]}}\n    configMap:\n{}",
            if name == "Bundle" {
                "      key: ca.crt\n"
            } else {
                "      data:\n      - key: ca.crt\n"
            }
        )
    };
    cp.apply(&format!(
        "apiVersion: trust.cert-manager.io/v1alpha1\nkind: Bundle\nmetadata: {{name: rotor-e2e-bundle}}\nspec:\n  sources:\n  - secret: {{name: linkerd-trust-anchor, key: tls.crt}}\n{}---\napiVersion: trust-manager.io/v1alpha2\nkind: ClusterBundle\nmetadata: {{name: rotor-e2e-cluster-bundle}}\nspec:\n  sourceRefs:\n  - {{kind: Secret, name: linkerd-trust-anchor, key: tls.crt}}\n{}",
        target("Bundle"),
        target("ClusterBundle")
    ));
    let exists = |name: &str| {
        let out = cp.kubectl(&[
            "-n",
            "shop",
            "get",
            "configmap",
            name,
            "--ignore-not-found",
            "-o",
            "name",
        ]);
        !out.stdout.is_empty()
    };
    wait_until("the Bundle's ConfigMap in shop", || {
        exists("rotor-e2e-bundle")
    });
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !exists("rotor-e2e-cluster-bundle"),
        "trust-manager wrote a ClusterBundle's target"
    );
    let conditions = cp.kubectl(&[
        "get",
        "clusterbundle",
        "rotor-e2e-cluster-bundle",
        "-o",
        "jsonpath={.status.conditions}",
    ]);
    assert!(
        conditions.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&conditions.stdout)
    );
    cp.kubectl(&["delete", "bundle", "rotor-e2e-bundle", "--wait=false"]);
    cp.kubectl(&[
        "delete",
        "clusterbundle",
        "rotor-e2e-cluster-bundle",
        "--wait=false",
    ]);
}

/// The chart's rules measured with the requests the real API server logged
/// for the CronJob's ServiceAccount: rotor's own RBAC evaluator (which the
/// proof against the test API server relies on) allows each request the
/// real authorizer allowed, and every rule is used by one of them or is on
/// the documented list.
fn chart_rules_are_used(cp: &ControlPlane, requests: &[&Value]) {
    let rendered = cluster::chart(&cp.helm, &[]);
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&rendered)
        .map(|doc| Value::deserialize(doc).expect("helm renders YAML"))
        .filter(|v| !v.is_null())
        .collect();
    let rbac = Rbac::from_manifests(&docs).expect("the chart's RBAC");
    let sa = ServiceAccount {
        namespace: "rotor-system".into(),
        name: "rotor".into(),
    };
    let mut used = BTreeSet::<RuleUnit>::new();
    let mut disagree = BTreeSet::new();
    for r in requests
        .iter()
        .filter_map(|e| RequestAttributes::from_audit(e))
    {
        let units = rbac.authorize(&sa, &r);
        if units.is_empty() {
            disagree.insert(r.to_string());
        }
        used.extend(units);
    }
    assert!(
        disagree.is_empty(),
        "allowed by the real API server, denied by rotor's RBAC evaluator: {disagree:#?}"
    );
    let documented: Vec<&Unused> = UNUSED_BY_THE_DEFAULT_RUN
        .iter()
        .chain(UNUSED_IN_CLUSTER_MODE)
        .chain(UNUSED_IN_THE_END_TO_END_RUN)
        .collect();
    let unexplained = chart_rules::unexplained(&rbac.units(&sa), &used, &documented);
    assert!(
        unexplained.is_empty(),
        "chart rules the real run never used and tests/support/chart_rules.rs does not explain: {unexplained:#?}"
    );
    eprintln!(
        "chart RBAC on the real API server: {} rule units, {} used by {} requests",
        rbac.units(&sa).len(),
        used.len(),
        requests.len()
    );
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Rerun until a run succeeds (a killed holder's lease expires after its
/// duration; until then a run is refused).
fn run_to_completion(kubeconfig: &Path, args: &[String]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = rotor(kubeconfig, args).output().unwrap();
        if out.status.success() {
            return json_report(&out);
        }
        let refused = String::from_utf8_lossy(&out.stderr).contains("held by");
        assert!(refused, "a rerun failed: {}", text(&out));
        assert!(Instant::now() < deadline, "never completed");
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// The default policy as a site ships one: pushed to a real registry,
/// signed by the real cosign; the flags that make a run pull and verify it.
fn signed_policy(cp: &ControlPlane) -> (Registry, String, Vec<String>) {
    let registry = Registry::start().expect("the distribution registry (.ci/install-tools.sh)");
    let cosign = Cosign::find().expect("cosign (.ci/build-control-plane.sh)");
    let dir = cp.dir.path();
    let wasm = dir.join("policy.wasm");
    std::fs::write(&wasm, rotor::runtime::DEFAULT_POLICY).expect("write policy");
    let target = format!("oci://{}/platform/rotation:v1", registry.host());
    let push_args = [
        "policy".into(),
        "push".into(),
        wasm.display().to_string(),
        target,
    ];
    let pushed = rotor(&cp.kubeconfig, &push_args).output().unwrap();
    assert!(pushed.status.success(), "{}", text(&pushed));
    let pinned = String::from_utf8_lossy(&pushed.stdout).trim().to_string();
    let (key, public) = cosign.generate_key_pair(dir);
    cosign.sign(&key, pinned.trim_start_matches("oci://"));
    let verify = dir.join("verify.yaml");
    let config = format!("keys:\n  - name: release\n    path: {}\n", public.display());
    std::fs::write(&verify, config).expect("write verify config");
    let flags = vec![
        "--guest".into(),
        pinned.clone(),
        "--verify".into(),
        verify.display().to_string(),
    ];
    (registry, pinned, flags)
}

/// rotor killed with SIGKILL mid-run, twice, then run again: the rotation
/// resumes where the progress record says and completes. Each run pulls
/// the policy from a registry and checks its cosign signature first.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn a_killed_run_resumes_and_completes() {
    let cp = ControlPlane::up();
    let kubeconfig = cp.service_account_kubeconfig();
    let old_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    let (_registry, pinned, policy_flags) = signed_policy(&cp);
    let args = [cronjob_args(&cp), policy_flags].concat();
    for after in [Duration::from_secs(8), Duration::from_secs(25)] {
        let mut child = rotor(&kubeconfig, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        kill(&mut child);
        // Wait for the dead holder's lease to lapse before the next kill.
        wait_until_lease_lapses(&cp);
    }
    let report = run_to_completion(&kubeconfig, &args);
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    assert_eq!(report["policy"]["source"], pinned.as_str(), "{report:#}");
    let new_anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_ne!(bodies(&new_anchor), bodies(&old_anchor));
    assert_eq!(bodies(&bundle(&cp)), bodies(&new_anchor));
}

fn wait_until_lease_lapses(cp: &ControlPlane) {
    // A lease of 60 s is taken over once renewTime + 60 s has passed.
    let _ = cp;
    std::thread::sleep(Duration::from_secs(65));
}

/// The API server restarted in the middle of a run: rotor retries or stops
/// safely, and a rerun completes the rotation.
#[test]
#[ignore = "needs the real control plane: .ci/run builds it and runs these with --ignored"]
fn an_api_server_restart_mid_run_is_survived() {
    let cp = ControlPlane::up();
    let kubeconfig = cp.service_account_kubeconfig();
    let args = cronjob_args(&cp);
    let child = rotor(&kubeconfig, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(15));
    cp.restart_apiserver();
    let first = child.wait_with_output().unwrap();
    eprintln!("run across the restart: {}", text(&first));
    let report = if first.status.success() {
        json_report(&first)
    } else {
        run_to_completion(&kubeconfig, &args)
    };
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    let anchor = secret_cert(&cp, "cert-manager", "linkerd-trust-anchor");
    assert_eq!(bodies(&bundle(&cp)), bodies(&anchor));
}
