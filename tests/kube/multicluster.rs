//! A mesh across clusters through two test API servers: `rotor status`
//! with a `clusters` list shows each cluster and whether they share a trust
//! anchor (compared by certificate, not PEM text) and whether every issuer
//! chains to one; `plan` and `run` refuse before any lock or write, naming
//! the clusters that differ, or a policy that rotates one cluster; `run`
//! with a policy that selects clusters takes the run lock in each, sends
//! each call to the cluster selected under that cluster's grants, and
//! leaves no lock behind; a member's kubeconfig is read from a Secret in
//! the cluster rotor runs in.

use crate::status::mesh;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rotor::commands::ClusterArgs;
use rotor::commands::status::{StatusArgs, collect_members};
use rotor::config::RunConfig;
use rotor::testing::apiserver::{ServerOptions, TestApiServer, kubeconfig_yaml};
use rotor::testing::fake::{FakeCluster, FakeState};
use rotor::wit::Secret;

type Ca = CertifiedIssuer<'static, KeyPair>;

/// An anchor as Linkerd's docs make one: every anchor here has the same
/// subject, so only the certificate itself tells them apart.
fn anchor() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "root.linkerd.cluster.local");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// An identity issuer signed by `anchor`.
fn issuer(anchor: &Ca) -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "identity.linkerd.cluster.local");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.not_after = rcgen::date_time_ymd(2098, 1, 1);
    let key = KeyPair::generate().unwrap();
    params.signed_by(&key, anchor).unwrap().pem()
}

/// `anchor`'s certificate as PEM with 76-column lines and CRLF: the same
/// certificate in other text.
fn rewrapped(anchor: &Ca) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(anchor.der());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
        lines.join("\r\n")
    )
}

/// A healthy mesh distributing `bundle`, its issuer Secret holding `issuer`.
fn member(bundle: &str, issuer: &str) -> FakeState {
    let mut state = mesh(bundle, 0, true);
    state.secrets.insert(
        ("linkerd".into(), "linkerd-identity-issuer".into()),
        tls_secret("linkerd", "linkerd-identity-issuer", "tls.crt", issuer),
    );
    state
}

fn tls_secret(namespace: &str, name: &str, key: &str, value: &str) -> Secret {
    Secret {
        namespace: namespace.into(),
        name: name.into(),
        type_: "Opaque".into(),
        data: vec![(key.into(), value.as_bytes().to_vec())],
        labels: vec![],
        annotations: vec![],
        resource_version: "1".into(),
    }
}

struct Mesh {
    east: TestApiServer,
    west: TestApiServer,
    backends: Vec<Arc<FakeCluster>>,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    config: PathBuf,
}

const CONFIG: &str =
    "clusters:\n- {name: east, context: east, home: true}\n- {name: west, context: west}\n";

/// Two clusters behind two servers, one kubeconfig with a context each.
async fn two_clusters(east: FakeState, west: FakeState) -> Mesh {
    let backends = vec![
        Arc::new(FakeCluster::new(east)),
        Arc::new(FakeCluster::new(west)),
    ];
    let serve =
        |b: &Arc<FakeCluster>| TestApiServer::start(b.clone(), ServerOptions::clock_untouched());
    let east = serve(&backends[0]).await.unwrap();
    let west = serve(&backends[1]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        kubeconfig_yaml(&[("east", &east), ("west", &west)]),
    )
    .unwrap();
    let config = dir.path().join("run.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    Mesh {
        east,
        west,
        backends,
        _dir: dir,
        kubeconfig,
        config,
    }
}

impl Mesh {
    fn args(&self, command: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            command.into(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
            "--config".into(),
            self.config.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// Neither server saw anything but reads, no lock was taken and no
    /// backend was changed.
    fn assert_untouched(&self) {
        for (name, server) in [("east", &self.east), ("west", &self.west)] {
            assert_only_read(name, server);
            assert!(
                server.stored("coordination.k8s.io/leases", None).is_empty(),
                "{name}: a run lock was taken"
            );
            assert!(!server.request_log().is_empty(), "{name} was never read");
        }
        for b in &self.backends {
            assert!(b.state.lock().unwrap().mutations.is_empty());
        }
    }
}

/// The `rotor` binary's output, off the async workers.
async fn rotor_output(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::support::rotor(&args)
    })
    .await
    .unwrap()
}

/// The `rotor` binary's (exit code, stdout, stderr).
async fn rotor(args: Vec<String>) -> (i32, String, String) {
    let out = rotor_output(args).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn short_fingerprint(anchor: &Ca) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(anchor.der()))[..16].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_across_clusters_sharing_an_anchor_says_so() {
    let root = anchor();
    let mesh = two_clusters(
        member(&root.pem(), &issuer(&root)),
        member(&rewrapped(&root), &issuer(&root)),
    )
    .await;
    let (code, out, err) = rotor(mesh.args("status", &[])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.starts_with("status: ok\nclusters: east (home): ok, west: ok\n"),
        "{out}"
    );
    let fp = short_fingerprint(&root);
    assert!(
        out.contains(&format!(
            "  the clusters share anchor CN=root.linkerd.cluster.local (sha256:{fp}); every issuer chains to it\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("\n== cluster east (home) ==\nstatus: ok\n"),
        "{out}"
    );
    assert!(out.contains("\n== cluster west ==\nstatus: ok\n"), "{out}");

    let (code, out, _) = rotor(mesh.args("status", &["--output", "json"])).await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["clusters"][0]["name"], "east");
    assert_eq!(v["clusters"][0]["home"], true);
    assert_eq!(v["clusters"][1]["name"], "west");
    assert!(v["clusters"][1]["status"]["bundle"]["anchors"].is_array());
    assert_eq!(v["shared_anchor"]["problems"], serde_json::json!([]));
    assert_eq!(
        v["shared_anchor"]["shared"][0]["fingerprint_sha256"]
            .as_str()
            .unwrap()[..16],
        fp
    );

    let out = rotor_output(mesh.args("status", &["--output", "prometheus"])).await;
    assert_eq!(
        crate::support::one_line_error(&out),
        "error: status --output prometheus shows one cluster; with clusters in the configuration use text or json"
    );

    // A site policy on the single-cluster rotation: refused, nothing written.
    for command in ["plan", "run"] {
        let site = guest("canary_first");
        let out = rotor_output(mesh.args(command, &["--guest", &site])).await;
        assert_eq!(
            crate::support::one_line_error(&out),
            format!(
                "error: {site} rotates one cluster (it does not import \
                 rotor:policy/clusters), and this configuration lists 2 clusters; nothing was changed"
            ),
            "{command}"
        );
    }
    mesh.assert_untouched();
    // A bad entry stops every command before any cluster is reached.
    write(
        &mesh.config,
        "clusters:\n- {name: east, context: east, home: true}\n\
         - {name: west, context: west, kubeconfigSecret: {namespace: rotor-system, name: w}}\n",
    );
    for command in ["status", "plan", "run"] {
        let out = rotor_output(mesh.args(command, &[])).await;
        assert_eq!(
            crate::support::one_line_error(&out),
            format!(
                "error: config {}: clusters[1] (\"west\"): both context and kubeconfigSecret set",
                mesh.config.display()
            ),
            "{command}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_different_anchors_are_named_and_plan_and_run_refuse_untouched() {
    let (east_root, west_root) = (anchor(), anchor());
    let mesh = two_clusters(
        member(&east_root.pem(), &issuer(&east_root)),
        member(&west_root.pem(), &issuer(&west_root)),
    )
    .await;
    let (code, out, err) = rotor(mesh.args("status", &[])).await;
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(
        out.starts_with(
            "status: needs attention\nclusters: east (home): ok, west: ok\n  ! west trusts no anchor that east trusts\n"
        ),
        "{out}"
    );
    let (east_fp, west_fp) = (short_fingerprint(&east_root), short_fingerprint(&west_root));
    assert!(
        out.contains(&format!(
            "  ! east's issuer chains to CN=root.linkerd.cluster.local (sha256:{east_fp}), which west does not trust\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  ! west's issuer chains to CN=root.linkerd.cluster.local (sha256:{west_fp}), which east does not trust\n"
        )),
        "{out}"
    );

    for command in ["plan", "run"] {
        let out = rotor_output(mesh.args(command, &[])).await;
        let line = crate::support::one_line_error(&out);
        assert!(
            line.starts_with(
                "error: the clusters do not share a trust anchor: west trusts no anchor that east trusts; "
            ),
            "{command}: {line}"
        );
    }
    mesh.assert_untouched();
}

async fn look(mesh: &Mesh, args: &ClusterArgs) -> rotor::commands::status::ClustersStatus {
    let config = RunConfig::load(&mesh.config).unwrap();
    let members = args.connect_members(&config.clusters).await.unwrap();
    collect_members(&members, &StatusArgs::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_chaining_to_an_anchor_another_cluster_does_not_trust_is_named() {
    let (shared, own) = (anchor(), anchor());
    // West trusts both anchors but its issuer is signed by the one east
    // does not trust: they share an anchor, west's workloads would not be
    // trusted in east.
    let mesh = two_clusters(
        member(&shared.pem(), &issuer(&shared)),
        member(&format!("{}{}", shared.pem(), own.pem()), &issuer(&own)),
    )
    .await;
    let args = ClusterArgs {
        kubeconfig: Some(mesh.kubeconfig.clone()),
        ..ClusterArgs::default()
    };
    let s = look(&mesh, &args).await;
    assert_eq!(s.shared_anchor.shared.len(), 1);
    assert_eq!(
        s.shared_anchor.shared[0].fingerprint_sha256[..16],
        short_fingerprint(&shared)
    );
    assert_eq!(
        s.shared_anchor.problems,
        [format!(
            "west's issuer chains to CN=root.linkerd.cluster.local (sha256:{}), which east does not trust",
            short_fingerprint(&own)
        )]
    );
    assert_eq!(s.exit_code(), 1);
}

/// Where rotor runs: a cluster holding west's kubeconfig in a Secret.
async fn rotor_cluster(secret: Secret) -> TestApiServer {
    let mut state = FakeState::default();
    state
        .secrets
        .insert((secret.namespace.clone(), secret.name.clone()), secret);
    TestApiServer::start(
        Arc::new(FakeCluster::new(state)),
        ServerOptions::clock_untouched(),
    )
    .await
    .unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_kubeconfig_is_read_from_a_secret_where_rotor_runs() {
    let (east_root, west_root) = (anchor(), anchor());
    let mesh = two_clusters(
        member(&east_root.pem(), &issuer(&east_root)),
        member(&west_root.pem(), &issuer(&west_root)),
    )
    .await;
    let west_kubeconfig = kubeconfig_yaml(&[("member", &mesh.west)]);
    let home = rotor_cluster(tls_secret(
        "rotor-system",
        "west-kubeconfig",
        "kubeconfig",
        &west_kubeconfig,
    ))
    .await;
    // The kubeconfig rotor is given reaches east and its own cluster only.
    write(
        &mesh.kubeconfig,
        &kubeconfig_yaml(&[("here", &home), ("east", &mesh.east)]),
    );
    write(
        &mesh.config,
        "clusters:\n- {name: east, context: east, home: true}\n\
         - name: west\n  kubeconfigSecret: {namespace: rotor-system, name: west-kubeconfig}\n",
    );
    let args = ClusterArgs {
        kubeconfig: Some(mesh.kubeconfig.clone()),
        context: Some("here".into()),
        ..ClusterArgs::default()
    };
    let s = look(&mesh, &args).await;
    let west = &s.clusters[1];
    assert_eq!(west.name, "west");
    let anchors = &west.status.bundle.as_ref().expect("west's bundle").anchors;
    assert_eq!(
        anchors[0].fingerprint_sha256[..16],
        short_fingerprint(&west_root),
        "west's status comes from west's server"
    );
    assert_eq!(
        s.shared_anchor.problems[0],
        "west trusts no anchor that east trusts"
    );
    assert!(
        home.request_log()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/rotor-system/secrets/west-kubeconfig"),
        "{:?}",
        home.request_log()
    );

    // The Secret without the key, or no Secret: one line naming the cluster.
    for (config, want) in [
        (
            "kubeconfigSecret: {namespace: rotor-system, name: west-kubeconfig, key: config}",
            "cluster west: kubeconfig Secret rotor-system/west-kubeconfig: has no key \"config\"",
        ),
        (
            "kubeconfigSecret: {namespace: rotor-system, name: gone}",
            "cluster west: kubeconfig Secret rotor-system/gone: cannot read it: not found",
        ),
    ] {
        write(
            &mesh.config,
            &format!(
                "clusters:\n- {{name: east, context: east, home: true}}\n- name: west\n  {config}\n"
            ),
        );
        let config = RunConfig::load(&mesh.config).unwrap();
        let err = args
            .connect_members(&config.clusters)
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(err.starts_with(want), "want {want}\n got {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

fn tour() -> String {
    guest("cluster_tour")
}

/// The path of a policy built with the tests.
fn guest(name: &str) -> String {
    Path::new(rotor::runtime::GUESTS_DIR)
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// Who holds the run lock in `server`'s cluster now, if anyone.
fn lease_holder(server: &TestApiServer) -> Option<String> {
    server
        .stored("coordination.k8s.io/leases", Some("rotor-system"))
        .iter()
        .find_map(|l| l["spec"]["holderIdentity"].as_str().map(String::from))
}

fn lease_writes(server: &TestApiServer) -> usize {
    server
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/leases"))
        .count()
}

fn summary_fact(report: &serde_json::Value, key: &str) -> String {
    report["summary"]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key)
        .unwrap_or_else(|| panic!("no fact {key}: {report}"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_visits_each_cluster_under_its_own_lock_and_grants() {
    let (shared, own) = (anchor(), anchor());
    // West trusts one more anchor than east: its answers tell the clusters apart.
    let mesh = two_clusters(
        member(&shared.pem(), &issuer(&shared)),
        member(&format!("{}{}", shared.pem(), own.pem()), &issuer(&shared)),
    )
    .await;
    // West grants no writes: the policy's Event there is denied.
    write(
        &mesh.config,
        "clusters:\n- {name: east, context: east, home: true}\n\
         - name: west\n  context: west\n  grants: {writeNamespaces: []}\n",
    );
    let (code, out, err) = rotor(mesh.args("run", &["--guest", &tour(), "--output", "json"])).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary_fact(&report, "clusters"), "east (home), west");
    assert_eq!(summary_fact(&report, "first"), "east");
    assert_eq!(summary_fact(&report, "unknown"), "not-found, still east");
    assert_eq!(summary_fact(&report, "east"), "anchors=1 event=recorded");
    assert_eq!(summary_fact(&report, "west"), "anchors=2 event=denied");

    // Each cluster's Event went to its own server; west's was refused by
    // west's grants, and the audit says so for west alone.
    let visited = |b: &FakeCluster| -> Vec<String> {
        b.state
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e.reason == "ClusterVisited")
            .map(|e| e.message.clone())
            .collect()
    };
    assert_eq!(
        visited(&mesh.backends[0]),
        ["cluster-tour read the trust roots of east"]
    );
    assert!(visited(&mesh.backends[1]).is_empty());
    let audit: Vec<(String, String)> = report["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primitive"] == "record-event")
        .map(|e| {
            (
                e["cluster"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        audit,
        [
            ("east".to_string(), "applied".to_string()),
            ("west".to_string(), "denied".to_string())
        ]
    );
    assert_eq!(report["calls"]["denied"], 1);

    // Each server saw the policy's read of its own trust roots, and its
    // own run lock taken and released: none is held after the run.
    for (name, server) in [("east", &mesh.east), ("west", &mesh.west)] {
        assert!(
            server.request_log().iter().any(|r| r.method == "GET"
                && r.path == "/api/v1/namespaces/linkerd/configmaps/linkerd-identity-trust-roots"),
            "{name} never read its trust roots"
        );
        assert!(
            lease_writes(server) >= 2,
            "{name}: lock not taken and released"
        );
        assert_eq!(lease_holder(server), None, "{name}: lock left behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_in_one_cluster_stops_the_run_and_frees_the_others() {
    let root = anchor();
    let mesh = two_clusters(
        member(&root.pem(), &issuer(&root)),
        member(&root.pem(), &issuer(&root)),
    )
    .await;
    let other = hold_lock(&mesh.west).await;
    let out = rotor_output(mesh.args("run", &["--guest", &tour()])).await;
    let line = crate::support::one_line_error(&out);
    assert!(
        line.starts_with("error: cluster west: rotation in progress, held by another-run since "),
        "{line}"
    );
    // East's lock was taken first, then released; the policy never ran.
    assert!(lease_writes(&mesh.east) >= 2, "east's lock was never taken");
    assert_eq!(lease_holder(&mesh.east), None, "east's lock left behind");
    assert_eq!(lease_holder(&mesh.west).as_deref(), Some("another-run"));
    assert!(mesh.backends.iter().all(|b| !visited(b)));
    other.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_only_runs_when_any_cluster_holds_a_record_and_yields_to_a_held_lock() {
    let root = anchor();
    let mesh = two_clusters(
        member(&root.pem(), &issuer(&root)),
        member(&root.pem(), &issuer(&root)),
    )
    .await;
    let resume = ["--guest", &tour(), "--resume-only"];
    // No record anywhere: nothing to do, nothing touched.
    let (code, out, err) = rotor(mesh.args("run", &resume)).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains(
            "rotor run --resume-only: no rotation in progress (no progress record in east, west): nothing to do"
        ),
        "{err}"
    );
    mesh.assert_untouched();

    // A record in west alone: a rotation is in progress, the run goes on.
    mesh.backends[1].state.lock().unwrap().progress = Some("{}".into());
    let other = hold_lock(&mesh.east).await;
    // Another run holds east: it is at it, so this one exits quietly.
    let (code, _, err) = rotor(mesh.args("run", &resume)).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "rotor run --resume-only: another run is rotating, nothing to do: cluster east: "
        ),
        "{err}"
    );
    other.release().await.unwrap();
    let (code, out, err) = rotor(mesh.args("run", &resume)).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        mesh.backends.iter().all(|b| visited(b)),
        "the policy ran in every cluster"
    );
}

/// Another run's lock in `server`'s cluster.
async fn hold_lock(server: &TestApiServer) -> rotor::lock::RunLock {
    rotor::lock::RunLock::acquire(
        server.client().unwrap(),
        "rotor-system",
        "another-run",
        rotor::lock::LockTiming::default(),
        rotor::cluster::kube::RetryPolicy::default(),
    )
    .await
    .unwrap()
}

/// Whether cluster-tour reached the cluster behind `backend`.
fn visited(backend: &FakeCluster) -> bool {
    let state = backend.state.lock().unwrap();
    state.events.iter().any(|e| e.reason == "ClusterVisited")
}

/// `server` saw nothing but reads.
pub(crate) fn assert_only_read(name: &str, server: &TestApiServer) {
    let writes: Vec<String> = server
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{name} was written: {writes:?}");
}
