//! The test API server cross-checked with the real kubectl 1.33: if kubectl
//! can list, restart, watch a rollout and read errors from it, the wire
//! format is close enough to a real server's for `KubeCluster` tests to mean
//! something. kubectl comes from `ROTOR_KUBECTL` or `.ci/install-tools.sh`
//! (`target/tools/kubectl`); without it these tests print why and pass.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState, deployment};
use rotor::wit::WorkloadKind;

/// `kubectl get` of the run lock's holder.
const HOLDER: [&str; 7] = [
    "get",
    "lease",
    "rotor",
    "-n",
    "rotor-system",
    "-o",
    "jsonpath={.spec.holderIdentity}",
];

fn kubectl() -> Option<PathBuf> {
    let from_env = std::env::var_os("ROTOR_KUBECTL").map(PathBuf::from);
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/kubectl");
    let found = from_env.or_else(|| installed.exists().then_some(installed));
    if found.is_none() {
        eprintln!(
            "skipping: kubectl 1.33 not found (set ROTOR_KUBECTL or run .ci/install-tools.sh)"
        );
    }
    found
}

struct Kubectl {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    fn new(bin: PathBuf, server: &TestApiServer) -> Self {
        let home = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(&home.path().join("config"))
            .unwrap();
        Kubectl { bin, home }
    }

    /// Run kubectl; (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.env("KUBECONFIG", self.home.path().join("config"))
            .env("HOME", self.home.path())
            .arg("--cache-dir")
            .arg(self.home.path().join("cache"))
            .args(args);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

async fn setup(opts: ServerOptions) -> (Arc<FakeCluster>, TestApiServer) {
    let (web, pods) = deployment("emojivoto", "web", 2);
    let (mut frozen, _) = deployment("emojivoto", "frozen", 1);
    frozen.paused = true;
    let fake = Arc::new(FakeCluster::new(FakeState {
        now: 1_000,
        namespaces: vec![rotor::wit::Namespace {
            name: "emojivoto".into(),
            labels: vec![],
            annotations: vec![],
        }],
        workloads: vec![web, frozen],
        pods,
        ..FakeState::default()
    }));
    let server = TestApiServer::start(fake.clone(), opts).await.unwrap();
    (fake, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_lists_and_errors() {
    let Some(bin) = kubectl() else { return };
    let (_fake, server) = setup(ServerOptions::clock_untouched()).await;
    let k = Kubectl::new(bin, &server);

    let (ok, out, err) = k.run(&["version", "-o", "json"]).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");

    let (ok, out, err) = k
        .run(&["get", "deployments", "-n", "emojivoto", "-o", "json"])
        .await;
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["frozen", "web"]);

    let (ok, out, err) = k
        .run(&[
            "get",
            "pods",
            "-A",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out, "web-abc12-00000 web-abc12-00001");

    let (ok, _, err) = k.run(&["get", "namespace", "nope"]).await;
    assert!(!ok);
    assert!(err.contains("Error from server (NotFound)"), "{err}");

    let (ok, _, err) = k.run(&["get", "certificates.cert-manager.io", "-A"]).await;
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_restart_and_status() {
    let Some(bin) = kubectl() else { return };
    let (fake, server) = setup(ServerOptions::default()).await;
    let k = Kubectl::new(bin, &server);

    let (ok, out, err) = k
        .run(&["rollout", "restart", "deployment/web", "-n", "emojivoto"])
        .await;
    assert!(ok, "{err}");
    assert!(out.contains("deployment.apps/web restarted"), "{out}");
    let web = fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(web.generation, 2);

    let (ok, out, err) = k
        .run(&[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "emojivoto",
            "--timeout=60s",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );

    let (ok, _, err) = k
        .run(&["rollout", "restart", "deployment/frozen", "-n", "emojivoto"])
        .await;
    assert!(!ok);
    assert!(err.contains("paused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_reads_and_replaces_a_lease() {
    let Some(bin) = kubectl() else { return };
    let (_fake, server) = setup(ServerOptions::clock_untouched()).await;
    let k = Kubectl::new(bin, &server);
    let lease = k.home.path().join("lease.yaml");
    std::fs::write(
        &lease,
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: rotor\n  namespace: rotor-system\nspec:\n  holderIdentity: kubectl-test\n  leaseDurationSeconds: 60\n",
    )
    .unwrap();
    let path = lease.display().to_string();
    // The server publishes no OpenAPI document, which client-side validation needs.
    let (ok, out, err) = k.run(&["create", "--validate=false", "-f", &path]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("lease.coordination.k8s.io/rotor created"),
        "{out}"
    );
    let (ok, _, err) = k.run(&["create", "--validate=false", "-f", &path]).await;
    assert!(!ok);
    assert!(err.contains("AlreadyExists"), "{err}");
    let (ok, out, err) = k.run(&HOLDER).await;
    assert!(ok, "{err}");
    assert_eq!(out, "kubectl-test");
    let (ok, _, err) = k
        .run(&[
            "patch",
            "lease",
            "rotor",
            "-n",
            "rotor-system",
            "--type",
            "merge",
            "-p",
            "{\"spec\":{\"holderIdentity\":\"other\"}}",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, _) = k.run(&HOLDER).await;
    assert!(ok);
    assert_eq!(out, "other");
    let (ok, out, err) = k
        .run(&["delete", "lease", "rotor", "-n", "rotor-system"])
        .await;
    assert!(ok, "{err}");
    assert!(out.contains("deleted"), "{out}");
}
