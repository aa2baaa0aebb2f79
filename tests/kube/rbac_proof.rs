//! The chart's RBAC, proven against what rotor really sends.
//!
//! A full default rotation (`rotor run`: run lock, progress record, events)
//! plus `rotor status` and `rotor plan` go through `KubeCluster` to the test
//! API server, configured exactly as the chart configures the CronJob (its
//! `--namespace`, its run configuration). Every recorded request becomes
//! Kubernetes request attributes, and the chart, rendered by the real
//! `helm template` in both RBAC modes, is evaluated as the RBAC authorizer
//! would:
//!
//! - every request `rotor run` makes is allowed to the CronJob's
//!   ServiceAccount;
//! - `status` and `plan` are run by a person (NOTES.txt: "from a
//!   workstation"); what of theirs the chart does not allow is listed in
//!   [`OPERATOR_ONLY`] with the reason;
//! - every rule (verb x resource x resourceName) of the chart is used by
//!   some request of `run`, or listed with the reason in
//!   `tests/support/chart_rules.rs` (shared with the end-to-end run against
//!   the real API server).
//!
//! Helm comes from `ROTOR_HELM` (set by `.ci/run`) or
//! `target/tools/bin/helm` (`.ci/install-chart-tools.sh`). Without it the
//! tests skip loudly, unless `CI` is set: then they fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser as _;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::kube::progress::PROGRESS_CONFIG_MAP;
use rotor::cluster::sim::SimCluster;
use rotor::commands::plan::plan_against;
use rotor::commands::run::{ObserveArgs, RunArgs, run_against};
use rotor::commands::status::{StatusArgs, status};
use rotor::commands::{ClusterArgs, Guest, OutputFormat, PolicyArgs};
use rotor::config::RunConfig;
use rotor::lock::{LEASE_NAME, LockTiming};
use rotor::runtime::RuntimeOptions;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::rbac::{Rbac, RequestAttributes, RuleUnit, ServiceAccount};
use serde_json::Value;

#[path = "../support/chart_rules.rs"]
mod chart_rules;

use chart_rules::{
    UNUSED_BY_THE_DEFAULT_RUN, UNUSED_IN_CLUSTER_MODE, UNUSED_IN_THE_END_TO_END_RUN, Unused,
};

mod chart;

use chart::{Install, chart_dir, helm, install, render};

const RELEASE: &str = "rotor";
const RELEASE_NAMESPACE: &str = "rotor-system";
const KUBE_VERSION: &str = "1.33.0";

/// The mesh every run rotates.
const MESH: &str = include_str!("../fixtures/rbac-mesh.yaml");
/// Linkerd without trust-manager: its Simulation document (the clock its
/// anchor needs), Secrets and ConfigMap are taken.
const NO_TRUST_MANAGER: &str = include_str!("../scenarios/no-trust-manager.yaml");

/// [`MESH`]'s workloads on Linkerd without trust-manager, rotated with
/// `bundle.writer: rotor`: every kind of restart, and rotor's writes of the
/// trust roots.
fn no_trust_manager_mesh() -> String {
    let kind_in = |d: &str, kinds: &[&str]| kinds.iter().any(|k| d.lines().any(|l| l == *k));
    let trust = ["kind: Simulation", "kind: Secret", "kind: ConfigMap"];
    let mut all: Vec<&str> = NO_TRUST_MANAGER
        .split("\n---\n")
        .filter(|d| kind_in(d, &trust))
        .collect();
    all.extend(
        MESH.split("\n---\n")
            .filter(|d| !kind_in(d, &["kind: Simulation"])),
    );
    all.join("\n---\n")
}

/// Requests of `status` and `plan` the chart need not allow: (command,
/// verb, group, resource, why). Both commands run with the operator's own
/// kubeconfig, not as the CronJob; the chart grants `rotor run` only.
const OPERATOR_ONLY: &[(&str, &str, &str, &str, &str)] = &[
    (
        "plan",
        "list",
        "cert-manager.io",
        "issuers",
        "plan copies the Issuers into its simulation; run never reads them",
    ),
    (
        "plan",
        "list",
        "cert-manager.io",
        "clusterissuers",
        "plan copies the ClusterIssuers into its simulation",
    ),
    (
        "plan",
        "list",
        "trust.cert-manager.io",
        "bundles",
        "plan copies the trust-manager Bundle into its simulation",
    ),
    (
        "plan",
        "list",
        "trust-manager.io",
        "clusterbundles",
        "plan copies trust-manager's ClusterBundles into its simulation",
    ),
    (
        "status",
        "get",
        "trust.cert-manager.io",
        "bundles",
        "status reads the Bundle to judge which namespaces get the anchors",
    ),
    (
        "status",
        "get",
        "trust-manager.io",
        "clusterbundles",
        "status reads the ClusterBundle to judge which namespaces get the anchors",
    ),
    // Namespace-scoped mode grants no cluster-wide lists; plan and status
    // read the whole cluster at once.
    (
        "plan",
        "list",
        "apps",
        "*",
        "plan lists every workload kind and ReplicaSet cluster-wide",
    ),
    (
        "plan",
        "list",
        "",
        "pods",
        "plan lists every pod cluster-wide",
    ),
    (
        "plan",
        "list",
        "cert-manager.io",
        "certificates",
        "plan lists every Certificate cluster-wide",
    ),
    (
        "status",
        "list",
        "cert-manager.io",
        "certificates",
        "status lists every Certificate cluster-wide",
    ),
    (
        "status",
        "list",
        "",
        "pods",
        "status lists meshed pods cluster-wide",
    ),
    (
        "status",
        "list",
        "apps",
        "*",
        "status lists ReplicaSets cluster-wide to name the workloads of stale pods",
    ),
];

/// The test API server over `sim`, rotor's state in `rotor_namespace`.
async fn serve(sim: Arc<SimCluster>, rotor_namespace: &str) -> TestApiServer {
    let server = TestApiServer::start(
        sim.clone(),
        ServerOptions {
            rotor_namespace: rotor_namespace.into(),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    server.seed_untracked_kinds(&sim.state_yaml()).unwrap();
    server
}

/// Requests recorded since `mark`, as request attributes (discovery left out).
fn since(server: &TestApiServer, mark: &mut usize) -> Vec<RequestAttributes> {
    let log = server.request_log();
    let new = log[*mark..]
        .iter()
        .filter_map(|r| RequestAttributes::from_http(&r.method, &r.path, r.query.as_deref()))
        .collect();
    *mark = log.len();
    new
}

/// status, plan, a full rotation, status again: every request, by command.
async fn exercise(inst: &Install, mesh: &str) -> Vec<(&'static str, RequestAttributes)> {
    let sim = Arc::new(SimCluster::from_yaml(mesh).unwrap());
    let server = serve(sim.clone(), &inst.rotor_namespace).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, &inst.config).unwrap();
    let kube = || {
        KubeCluster::new(server.client().unwrap(), &inst.rotor_namespace).with_clock(server.clock())
    };
    let options = || RuntimeOptions { cache_dir: None };
    let mut mark = 0;
    let mut out = Vec::new();

    status(Arc::new(kube()), &StatusArgs::default())
        .await
        .expect("status reads the cluster");
    out.extend(since(&server, &mut mark).into_iter().map(|r| ("status", r)));

    let loaded = RunConfig::load(&config).expect("the run configuration loads");
    let plan = plan_against(&kube(), &Guest::builtin(), None, &loaded, options())
        .await
        .expect("plan reads the cluster");
    assert!(plan.report.succeeded(), "{}", plan.report.render_text());
    out.extend(since(&server, &mut mark).into_iter().map(|r| ("plan", r)));

    let args = RunArgs {
        cluster: ClusterArgs {
            namespace: Some(inst.rotor_namespace.clone()),
            ..ClusterArgs::default()
        },
        policy: PolicyArgs {
            config: Some(config.clone()),
            ..PolicyArgs::default()
        },
        dry_run: false,
        resume_only: false,
        output: OutputFormat::Json,
        observe: ObserveArgs::default(),
    };
    let report = run_against(
        kube(),
        &args,
        &Guest::builtin(),
        &loaded,
        options(),
        LockTiming::default(),
    )
    .await
    .expect("rotor run starts");
    assert!(report.succeeded(), "{}", report.render_text());
    let sim_report = sim.simulation_report();
    assert!(
        sim_report.final_state.anchor_rotated && sim_report.final_state.issuer_rotated,
        "a full rotation ran"
    );
    assert_eq!(sim_report.outage.broken_pair_seconds, 0.0);
    out.extend(since(&server, &mut mark).into_iter().map(|r| ("run", r)));

    status(Arc::new(kube()), &StatusArgs::default())
        .await
        .expect("status reads the cluster");
    out.extend(since(&server, &mut mark).into_iter().map(|r| ("status", r)));
    out
}

fn operator_only(command: &str, r: &RequestAttributes) -> Option<&'static str> {
    OPERATOR_ONLY
        .iter()
        .find(|(c, v, g, res, _)| {
            *c == command
                && *v == r.verb
                && *g == r.api_group
                && (*res == "*" || *res == r.full_resource())
        })
        .map(|e| e.4)
}

/// Both directions for one rendering of the chart, its run rotating
/// `mesh`; `unused_here` adds rules this rendering's run does not use.
async fn prove(mode: &str, helm_args: &[&str], unused_here: &[Unused], mesh: &str) {
    let Some(helm) = helm() else { return };
    let inst = install(&render(&helm, helm_args));
    let requests = exercise(&inst, mesh).await;
    let rbac = &inst.rbac;

    // (a) Everything `run` does is allowed; status and plan as documented.
    let mut forbidden = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut operator = BTreeSet::new();
    for (command, r) in &requests {
        let units = rbac.authorize(&inst.sa, r);
        if units.is_empty() {
            match operator_only(command, r) {
                Some(why) if *command != "run" => {
                    operator.insert(format!("{command}: {r} ({why})"));
                }
                _ => {
                    forbidden.insert(format!("{command}: {r}"));
                }
            }
        } else if *command == "run" {
            // Coverage counts `run` alone: the chart grants the CronJob.
            used.extend(units);
        }
    }
    assert!(
        forbidden.is_empty(),
        "{mode}: the chart's RBAC forbids these requests of {}:\n  {}",
        inst.sa.name,
        forbidden.into_iter().collect::<Vec<_>>().join("\n  ")
    );

    // (b) Every rule is used by `run`, or documented as not used by it.
    let documented: Vec<&Unused> = UNUSED_BY_THE_DEFAULT_RUN
        .iter()
        .chain(unused_here)
        .collect();
    let all = rbac.units(&inst.sa);
    let unused = chart_rules::unexplained(&all, &used, &documented);
    assert!(
        unused.is_empty(),
        "{mode}: chart rules nothing used (remove them, or document them in tests/support/chart_rules.rs):\n  {}",
        unused.join("\n  ")
    );
    for entry in documented {
        let (verb, group, resource, _) = entry;
        let matches = |u: &&RuleUnit| chart_rules::documents(entry, u);
        assert!(
            all.iter().any(|u| matches(&u)),
            "{mode}: documented as unused: {verb} {group}/{resource}, which the chart no longer grants"
        );
        assert!(
            !used.iter().any(|u| matches(&u)),
            "{mode}: documented as unused: {verb} {group}/{resource}, which the run used"
        );
    }
    // What only the end-to-end run leaves unused, this proof's run uses.
    for entry in UNUSED_IN_THE_END_TO_END_RUN {
        let (verb, group, resource, _) = entry;
        let matches = |u: &&RuleUnit| chart_rules::documents(entry, u);
        assert!(
            used.iter().any(|u| matches(&u)),
            "{mode}: {verb} {group}/{resource} is unused end to end and here too"
        );
    }

    let tuples = |only: Option<&str>| {
        requests
            .iter()
            .filter(|(c, _)| only.is_none_or(|o| o == *c))
            .map(|(_, r)| {
                (
                    r.verb.clone(),
                    r.api_group.clone(),
                    r.full_resource(),
                    r.namespace.clone(),
                    r.name.clone(),
                )
            })
            .collect::<BTreeSet<_>>()
            .len()
    };
    println!(
        "{mode}: {} manifests, {} RBAC rules ({} rule units) for {}/{}; {} requests, {} distinct (verb, group, resource, namespace, name) tuples ({} by run)",
        inst.manifests,
        rbac.rule_count(&inst.sa),
        all.len(),
        inst.sa.namespace,
        inst.sa.name,
        requests.len(),
        tuples(None),
        tuples(Some("run")),
    );
    println!(
        "{mode}: not granted, left to the operator's credentials:\n  {}",
        operator.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_role_mode_allows_what_rotor_uses_and_nothing_unused() {
    prove(
        "ClusterRole mode (default values)",
        &[],
        UNUSED_IN_CLUSTER_MODE,
        MESH,
    )
    .await;
}

/// `bundle.writer: rotor` on Linkerd without trust-manager: the grant to
/// update the trust roots is used by the run (its writes of the bundle),
/// and nothing the run does is forbidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotor_as_bundle_writer_allows_what_rotor_uses_and_nothing_unused() {
    let values = chart_dir().join("ci/no-trust-manager-values.yaml");
    prove(
        "ClusterRole mode, bundle.writer rotor (ci/no-trust-manager-values.yaml)",
        &["-f", values.to_str().unwrap()],
        UNUSED_IN_CLUSTER_MODE,
        &no_trust_manager_mesh(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_mode_allows_what_rotor_uses_and_nothing_unused() {
    // The value set as CI renders it, with Linkerd where the simulator puts
    // it (linkerd, cert-manager) and the write grants left to the chart's
    // default (the managed namespaces). `chart_names_what_its_rbac_grants`
    // checks the value set's own namespaces.
    let values = chart_dir().join("ci/namespaced-rbac-values.yaml");
    prove(
        "namespaced mode (ci/namespaced-rbac-values.yaml)",
        &[
            "-f",
            values.to_str().unwrap(),
            "--set",
            "linkerd.namespace=linkerd,linkerd.certManagerNamespace=cert-manager",
            "--set-json",
            "grants.writeNamespaces=null",
        ],
        &[],
        MESH,
    )
    .await;
}

fn attrs(
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> RequestAttributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    RequestAttributes {
        verb: verb.into(),
        api_group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn split(named: &str) -> (&str, &str) {
    named
        .split_once('/')
        .unwrap_or_else(|| panic!("{named:?} is not namespace/name"))
}

/// Every value set as CI renders it: the names the run configuration gives
/// the binary (grants, the embedded policy's objects, the lease and
/// progress record in `--namespace`) are the names the chart's RBAC grants.
#[test]
fn chart_names_what_its_rbac_grants() {
    let Some(helm) = helm() else { return };
    let mut sets: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    sets.sort();
    assert!(sets.len() >= 4, "{sets:?}");
    for set in sets {
        let name = set.file_name().unwrap().to_string_lossy().into_owned();
        let docs = render(&helm, &["-f", set.to_str().unwrap()]);
        let role = multicluster_role(&set);
        if role == "member" {
            // No run configuration here: the management install's names
            // are checked against the member's RBAC below.
            continue;
        }
        let inst = install(&docs);
        let config = RunConfig::parse(&inst.config, Path::new(&name))
            .unwrap_or_else(|e| panic!("{name}: rotor refuses the chart's run configuration: {e}"));
        // Every flag the CronJob passes is one this rotor takes.
        rotor::cli::Cli::try_parse_from(
            std::iter::once("rotor".to_string()).chain(inst.args.clone()),
        )
        .unwrap_or_else(|e| panic!("{name}: rotor refuses the CronJob's arguments: {e}"));
        let mut need: Vec<(String, RequestAttributes)> = Vec::new();
        let mut want = |why: String, a: RequestAttributes| need.push((why, a));
        let ns = inst.rotor_namespace.as_str();
        // (what, group, resource, name, verbs on it by name); create has no name.
        let own = [
            (
                "run lock",
                "coordination.k8s.io",
                "leases",
                LEASE_NAME,
                &["get", "update"][..],
            ),
            (
                "progress record",
                "",
                "configmaps",
                PROGRESS_CONFIG_MAP,
                &["get", "patch", "delete"][..],
            ),
        ];
        for (what, group, resource, object, verbs) in own {
            for verb in verbs {
                want(
                    format!("{what} ({verb})"),
                    attrs(verb, group, resource, ns, object),
                );
            }
            want(
                format!("{what} (create)"),
                attrs("create", group, resource, ns, ""),
            );
        }
        for s in &config.grants.read_secrets {
            let (sns, sname) = split(s);
            want(
                format!("grants.readSecrets {s}"),
                attrs("get", "", "secrets", sns, sname),
            );
        }
        for s in &config.grants.write_secrets {
            let (sns, sname) = split(s);
            want(
                format!("grants.writeSecrets {s}"),
                attrs("update", "", "secrets", sns, sname),
            );
        }
        for c in &config.grants.write_config_maps {
            let (cns, cname) = split(c);
            want(
                format!("grants.writeConfigMaps {c}"),
                attrs("update", "", "configmaps", cns, cname),
            );
        }
        // set-ca-issuer-secret reads the issuer, then merge-patches it.
        for i in &config.grants.write_issuers {
            let (resource, ins, iname) = match i.split('/').collect::<Vec<_>>()[..] {
                ["ClusterIssuer", n] => ("clusterissuers", "", n),
                ["Issuer", ns, n] => ("issuers", ns, n),
                _ => panic!("{name}: grants.writeIssuers {i:?} is malformed"),
            };
            for verb in ["get", "patch"] {
                want(
                    format!("grants.writeIssuers {i} ({verb})"),
                    attrs(verb, "cert-manager.io", resource, ins, iname),
                );
            }
        }
        // The embedded policy's objects, as the chart names them to it.
        let site_policy = docs
            .iter()
            .find(|d| d["kind"] == "CronJob")
            .map(|c| c.to_string().contains("--guest"))
            .unwrap();
        if !site_policy {
            let p = config.policy.clone().unwrap_or(Value::Null);
            let obj = |key: &str| {
                let o = &p[key];
                let (n, m) = (o["namespace"].as_str(), o["name"].as_str());
                match (n, m) {
                    (Some(n), Some(m)) => (n.to_string(), m.to_string()),
                    _ => panic!(
                        "{name}: the chart does not name the policy's {key}, so the policy uses its own default \
                         (linkerd / cert-manager), whatever `linkerd.*` says: {p}"
                    ),
                }
            };
            for key in ["trustAnchor", "identityIssuer"] {
                let (cns, cname) = obj(key);
                want(
                    format!("policy {key} Certificate"),
                    attrs("get", "cert-manager.io", "certificates", &cns, &cname),
                );
                want(
                    format!("policy {key} renewal"),
                    attrs(
                        "update",
                        "cert-manager.io",
                        "certificates/status",
                        &cns,
                        &cname,
                    ),
                );
            }
            // A staged anchor keeps a second anchor Certificate (read,
            // renewed, its Secret read) in place of the previous anchor.
            let staged = p["mode"] == "staged";
            let second = if staged {
                let (nns, nname) = obj("nextAnchor");
                want(
                    "policy nextAnchor Certificate".into(),
                    attrs("get", "cert-manager.io", "certificates", &nns, &nname),
                );
                want(
                    "policy nextAnchor renewal".into(),
                    attrs(
                        "update",
                        "cert-manager.io",
                        "certificates/status",
                        &nns,
                        &nname,
                    ),
                );
                want(
                    "policy nextAnchor Secret".into(),
                    attrs("get", "", "secrets", &nns, &nname),
                );
                (nns, nname)
            } else {
                let (pns, pname) = obj("previousAnchorSecret");
                want(
                    "policy previousAnchorSecret".into(),
                    attrs("get", "", "secrets", &pns, &pname),
                );
                want(
                    "policy previousAnchorSecret (write)".into(),
                    attrs("update", "", "secrets", &pns, &pname),
                );
                (pns, pname)
            };
            let (tns, tname) = obj("trustRootsConfigMap");
            want(
                "policy trustRootsConfigMap".into(),
                attrs("get", "", "configmaps", &tns, &tname),
            );
            // The preflight reads the control plane's Linkerd version.
            want(
                "policy linkerd-config (Linkerd version)".into(),
                attrs("get", "", "configmaps", &tns, "linkerd-config"),
            );
            // The guard refuses the policy before Kubernetes would: the
            // grants must cover the same objects.
            let g = &config.grants;
            let anchor_ns = obj("trustAnchor").0;
            let issuer_ns = obj("identityIssuer").0;
            let mut gaps = Vec::new();
            for ns in [&anchor_ns, &issuer_ns] {
                if !g.can_write_namespace(ns) {
                    gaps.push(format!(
                        "renewing a Certificate in {ns} (grants.writeNamespaces)"
                    ));
                }
            }
            let (sns, sname) = &second;
            if staged {
                if !g.can_read_secret(sns, sname) {
                    gaps.push(format!(
                        "the next anchor's Secret {sns}/{sname} (grants.readSecrets)"
                    ));
                }
                if config.grants.write_issuers.is_empty()
                    || !g.allows_verb(rotor::guard::Verb::SetCaIssuer)
                {
                    gaps.push(
                        "pointing the CA issuer at the other anchor (grants.writeIssuers, the set-ca-issuer verb)"
                            .into(),
                    );
                }
            } else if !g.can_read_secret(sns, sname) || !g.can_write_secret(sns, sname) {
                gaps.push(format!(
                    "the previous anchor {sns}/{sname} (grants.readSecrets/writeSecrets)"
                ));
            }
            if !g.can_read_namespace(&tns) {
                gaps.push(format!("the trust roots in {tns} (grants.readNamespaces)"));
            }
            if p["bundle"]["writer"] == "rotor" {
                want(
                    "policy trustRootsConfigMap (write, bundle.writer rotor)".into(),
                    attrs("update", "", "configmaps", &tns, &tname),
                );
                if !g.can_write_config_map(&tns, &tname)
                    || !g.allows_verb(rotor::guard::Verb::WriteConfigMap)
                {
                    gaps.push(format!(
                        "writing the trust roots {tns}/{tname} with bundle.writer rotor \
                         (grants.writeConfigMaps, the write-config-map verb)"
                    ));
                }
            }
            assert!(
                gaps.is_empty(),
                "{name}: the run configuration's grants refuse {}",
                gaps.join("; ")
            );
            let cp = p["controlPlaneNamespace"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no controlPlaneNamespace: {p}"));
            assert!(
                g.can_write_namespace(cp),
                "{name}: grants.writeNamespaces leaves out the control plane's {cp}"
            );
            want(
                "control plane restart".into(),
                attrs("patch", "apps", "deployments", cp, "linkerd-identity"),
            );
            want(
                "identity controller events".into(),
                attrs("list", "", "events", cp, ""),
            );
        }
        // The management install reaches the mesh through each cluster's
        // kubeconfig, and does there what each member install grants.
        let (rbac, sa) = if role == "management" {
            management_names(&helm, &name, &config, &inst)
        } else {
            (inst.rbac, inst.sa)
        };
        let denied: Vec<String> = need
            .iter()
            .filter(|(_, a)| rbac.authorize(&sa, a).is_empty())
            .map(|(why, a)| format!("{why}: {a}"))
            .collect();
        assert!(
            denied.is_empty(),
            "{name}: the run configuration names objects the chart's RBAC does not grant:\n  {}",
            denied.join("\n  ")
        );
        println!(
            "{name}: {} manifests, {} RBAC rules; {} named accesses granted",
            docs.len(),
            rbac.rule_count(&sa),
            need.len()
        );
    }
}

/// `multicluster.role` in a value set ("" when unset).
fn multicluster_role(set: &Path) -> String {
    let values: Value = serde_norway::from_str(&std::fs::read_to_string(set).unwrap()).unwrap();
    values["multicluster"]["role"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// For a management install: its own Role must let it read every
/// cluster's kubeconfig Secret, and every cluster's grants must be named by
/// that cluster's member install. Returns the home member's RBAC and
/// ServiceAccount, which the top-level names are checked against.
fn management_names(
    helm: &Path,
    name: &str,
    config: &RunConfig,
    inst: &Install,
) -> (Rbac, ServiceAccount) {
    for c in &config.clusters {
        let rotor::config::ClusterSource::Secret(k) = c.source() else {
            panic!(
                "{name}: cluster {} is not reached through a kubeconfig Secret",
                c.name
            );
        };
        let read = attrs("get", "", "secrets", &k.namespace, &k.name);
        assert!(
            !inst.rbac.authorize(&inst.sa, &read).is_empty(),
            "{name}: the management install cannot read {}'s kubeconfig: {read}",
            c.name
        );
    }
    let member = |home: bool| {
        let home = format!("multicluster.home={home}");
        let docs = render(helm, &["--set", "multicluster.role=member", "--set", &home]);
        Rbac::from_manifests(&docs).unwrap_or_else(|e| panic!("{name}: member RBAC: {e}"))
    };
    let sa = ServiceAccount {
        namespace: RELEASE_NAMESPACE.into(),
        name: RELEASE.into(),
    };
    let member_rbac = member(false);
    for c in config.clusters.iter().filter(|c| !c.home) {
        let g = c.grants_or(&config.grants);
        for s in g
            .read_secrets
            .iter()
            .map(|s| ("get", s))
            .chain(g.write_secrets.iter().map(|s| ("update", s)))
        {
            let (sns, sname) = split(s.1);
            let a = attrs(s.0, "", "secrets", sns, sname);
            assert!(
                !member_rbac.authorize(&sa, &a).is_empty(),
                "{name}: cluster {}'s grants name {a}, which its member install does not grant",
                c.name
            );
        }
    }
    (member(true), sa)
}

/// A multicluster mesh as the chart installs it: the management cluster's
/// run configuration gives each cluster its grants, and each cluster's own
/// install (`multicluster.role: member`, the home with `home: true`) must
/// allow every request the rotation made there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_install_allows_what_the_rotation_across_clusters_uses_there() {
    let Some(helm) = helm() else { return };
    let values = chart_dir().join("ci/multicluster-management-values.yaml");
    let management = install(&render(&helm, &["-f", values.to_str().unwrap()]));
    let config: RunConfig = serde_norway::from_str(&management.config).unwrap();
    let grants = |name: &str| {
        let entry = config.clusters.iter().find(|c| c.name == name).unwrap();
        entry.grants_or(&config.grants).clone()
    };
    let rotated =
        crate::across_clusters::rotate_home_and_member([grants("east"), grants("west")]).await;
    let sa = ServiceAccount {
        namespace: RELEASE_NAMESPACE.into(),
        name: RELEASE.into(),
    };
    for (name, home, server) in [
        ("east", true, &rotated.servers[0]),
        ("west", false, &rotated.servers[1]),
    ] {
        let home = format!("multicluster.home={home}");
        let docs = render(
            &helm,
            &["--set", "multicluster.role=member", "--set", &home],
        );
        let rbac =
            Rbac::from_manifests(&docs).unwrap_or_else(|e| panic!("{name}: chart RBAC: {e}"));
        let mut mark = 0;
        let requests = since(server, &mut mark);
        assert!(!requests.is_empty(), "{name}: no requests");
        let forbidden: BTreeSet<String> = requests
            .iter()
            .filter(|r| rbac.authorize(&sa, r).is_empty())
            .map(ToString::to_string)
            .collect();
        assert!(
            forbidden.is_empty(),
            "{name}: the member install forbids:\n  {}",
            forbidden.into_iter().collect::<Vec<_>>().join("\n  ")
        );
        println!(
            "{name}: {} requests of the rotation, all allowed to {}/{}",
            requests.len(),
            sa.namespace,
            sa.name
        );
    }
}
