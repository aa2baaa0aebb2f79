//! A real control plane for one test: started by `control-plane.sh up`
//! (API server, etcd, controller-manager, scheduler, kwok, cert-manager,
//! trust-manager, all local processes), dressed with rotor's chart and
//! Linkerd's objects, stopped when dropped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::linkerd::LinkerdStandIn;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub helm: PathBuf,
    pub server: String,
    linkerd: Option<LinkerdStandIn>,
}

/// How far the stand-in injector's and identity's copies of the trust roots
/// and the issuer lag the API (the kubelet's sync; short, for test time).
const LAG: Duration = Duration::from_secs(3);

fn script() -> PathBuf {
    repo().join("tests/e2e/control-plane.sh")
}

fn tool(var: &str) -> PathBuf {
    PathBuf::from(std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: .ci/run sets it (it installs kubectl and helm)")
    }))
}

/// Run a command; panic with its output when it fails.
pub fn must(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What a site chose beyond the defaults.
#[derive(Default)]
pub struct Setup {
    /// `--set` values for rotor's chart.
    pub chart_values: Vec<&'static str>,
    /// Linkerd's chart renders the trust roots (no trust-manager Bundle).
    pub trust_roots_from_linkerd_chart: bool,
    /// A member cluster of a multicluster mesh: no anchor Certificate of its
    /// own but this copy of the home cluster's anchor Secret (its `data`),
    /// written before the identity issuer's Certificate so the shared anchor
    /// signs it.
    pub anchor_copy: Option<serde_json::Value>,
}

impl Setup {
    /// Linkerd installed without trust-manager: its chart's ConfigMap,
    /// written by rotor (`bundle.writer: rotor`).
    pub fn without_trust_manager() -> Setup {
        Setup {
            chart_values: vec!["bundle.enabled=false", "bundle.writer=rotor"],
            trust_roots_from_linkerd_chart: true,
            ..Setup::default()
        }
    }

    /// A member cluster of `home`'s mesh: the chart in member role (no root
    /// Issuer or anchor Certificate, `update` on the anchor's Secret), the
    /// anchor a copy of the home's.
    pub fn member_of(home: &ControlPlane) -> Setup {
        Setup {
            chart_values: vec!["multicluster.role=member"],
            anchor_copy: Some(home.anchor_secret_data()),
            ..Setup::default()
        }
    }
}

impl ControlPlane {
    /// Start a control plane and install what a site running rotor has:
    /// Linkerd's objects, rotor's chart (certificate chain, trust bundle,
    /// RBAC, CronJob) and a meshed application.
    pub fn up() -> ControlPlane {
        ControlPlane::up_with(Setup::default())
    }

    /// [`ControlPlane::up`] with a site's own choices.
    pub fn up_with(setup: Setup) -> ControlPlane {
        let dir = tempfile::Builder::new()
            .prefix("rotor-e2e-")
            .tempdir()
            .expect("temp dir");
        let kubectl = tool("ROTOR_KUBECTL");
        let helm = tool("ROTOR_HELM");
        let began = Instant::now();
        must(
            Command::new("bash")
                .arg(script())
                .arg("up")
                .arg(dir.path())
                .env("KUBECTL", &kubectl),
        );
        eprintln!("control plane up in {:?}", began.elapsed());
        let env = std::fs::read_to_string(dir.path().join("env")).expect("env file");
        let server = env
            .lines()
            .find_map(|l| l.strip_prefix("ROTOR_CP_API_SERVER="))
            .expect("API server address")
            .trim_matches('\'')
            .to_string();
        let kubeconfig = dir.path().join("admin.kubeconfig");
        let mut cp = ControlPlane {
            dir,
            kubeconfig,
            kubectl,
            helm,
            server,
            linkerd: None,
        };
        cp.install(&setup);
        cp
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        must(
            Command::new(&self.kubectl)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args),
        )
    }

    /// `kubectl apply` of a YAML text.
    pub fn apply(&self, yaml: &str) {
        let path = self
            .dir
            .path()
            .join(format!("apply-{}.yaml", rand_suffix()));
        std::fs::write(&path, yaml).expect("write manifest");
        self.kubectl(&["apply", "--server-side", "-f", path.to_str().unwrap()]);
    }

    fn install(&mut self, setup: &Setup) {
        let linkerd = LinkerdStandIn::start(&self.kubeconfig, LAG);
        self.apply(&webhook_config(&linkerd));
        self.linkerd = Some(linkerd);
        self.apply(include_str!("manifests/linkerd-control-plane.yaml"));
        if let Some(data) = &setup.anchor_copy {
            self.write_anchor_secret(data);
        }
        self.apply(&chart(&self.helm, &setup.chart_values));
        self.wait_for_certificate_secrets();
        self.bootstrap_previous_anchor();
        if setup.trust_roots_from_linkerd_chart {
            self.render_trust_roots_as_linkerd_does();
        }
        self.wait_for(
            "the trust-roots ConfigMap",
            &[
                "-n",
                "linkerd",
                "get",
                "configmap",
                "linkerd-identity-trust-roots",
            ],
        );
        // Meshed pods are created once the injector's copy holds the roots.
        let roots = self.trust_roots();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.linkerd.as_ref().is_some_and(|l| l.holds(&roots, LAG)) {
            assert!(
                Instant::now() < deadline,
                "the injector never saw the trust roots"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        self.apply(include_str!("manifests/mesh.yaml"));
        for ns in ["linkerd", "shop", "batch"] {
            self.kubectl(&[
                "-n",
                ns,
                "wait",
                "--for=condition=Ready",
                "pod",
                "--all",
                "--timeout=180s",
            ]);
        }
    }

    /// The trust roots (PEM) in Linkerd's trust-roots ConfigMap.
    pub fn trust_roots(&self) -> String {
        let out = self.kubectl(&[
            "-n",
            "linkerd",
            "get",
            "configmap",
            "linkerd-identity-trust-roots",
            "-o",
            "jsonpath={.data.ca-bundle\\.crt}",
        ]);
        String::from_utf8(out.stdout).expect("PEM")
    }

    /// What the chart's bootstrap hook does (kwok runs no container): the
    /// previous anchor starts as the anchor's certificate, so the Bundle has
    /// both its sources and writes the trust roots.
    fn bootstrap_previous_anchor(&self) {
        self.wait_for(
            "the trust anchor's Secret",
            &[
                "-n",
                "cert-manager",
                "get",
                "secret",
                "linkerd-trust-anchor",
            ],
        );
        let crt = self.secret_crt_base64("cert-manager", "linkerd-trust-anchor");
        self.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: linkerd-previous-anchor\n  namespace: cert-manager\ntype: Opaque\ndata:\n  tls.crt: {}\n",
            crt.trim()
        ));
    }

    /// The anchor Secret's certificate, key and CA (base64, as the API
    /// returns them).
    pub fn anchor_secret_data(&self) -> serde_json::Value {
        let out = self.kubectl(&[
            "-n",
            "cert-manager",
            "get",
            "secret",
            "linkerd-trust-anchor",
            "-o",
            "json",
        ]);
        let secret: serde_json::Value = serde_json::from_slice(&out.stdout).expect("Secret JSON");
        let data = &secret["data"];
        serde_json::json!({
            "tls.crt": data["tls.crt"],
            "tls.key": data["tls.key"],
            "ca.crt": data["ca.crt"],
        })
    }

    /// Replace the anchor Secret's data (a member's copy of the anchor).
    pub fn write_anchor_secret(&self, data: &serde_json::Value) {
        self.apply(
            &serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "linkerd-trust-anchor", "namespace": "cert-manager"},
                "type": "kubernetes.io/tls",
                "data": data,
            })
            .to_string(),
        );
    }

    /// A Secret's `tls.crt` as the API returns it (base64).
    pub fn secret_crt_base64(&self, ns: &str, name: &str) -> String {
        let out = self.kubectl(&[
            "-n",
            ns,
            "get",
            "secret",
            name,
            "-o",
            "jsonpath={.data.tls\\.crt}",
        ]);
        String::from_utf8(out.stdout)
            .expect("base64 text")
            .trim()
            .to_string()
    }

    /// A Secret's `tls.crt` (PEM).
    pub fn secret_cert(&self, ns: &str, name: &str) -> String {
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(self.secret_crt_base64(ns, name))
            .expect("base64");
        String::from_utf8(pem).expect("PEM")
    }

    /// The trust-roots ConfigMap as Linkerd's chart renders it without an
    /// external CA (`charts/linkerd-control-plane/templates/identity.yaml`):
    /// its labels and `created-by` annotation, and `ca-bundle.crt` holding
    /// `identityTrustAnchorsPEM`, here the anchor's certificate.
    fn render_trust_roots_as_linkerd_does(&self) {
        let pem = self.secret_cert("cert-manager", "linkerd-trust-anchor");
        let indented: String = pem.trim().lines().map(|l| format!("    {l}\n")).collect();
        self.apply(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: linkerd-identity-trust-roots\n  namespace: linkerd\n  labels:\n    linkerd.io/control-plane-component: identity\n    linkerd.io/control-plane-ns: linkerd\n  annotations:\n    linkerd.io/created-by: linkerd/helm edge-25.12.1\ndata:\n  ca-bundle.crt: |-\n{indented}"
        ));
    }

    /// Wait until every Certificate the chart rendered has written its
    /// Secret. cert-manager v1.x can strand a first issuance when it creates
    /// two self-signed Certificates at once: its request manager replaces a
    /// CertificateRequest whose temporary private-key Secret the key manager
    /// has already replaced ("next private key does not match CSR public
    /// key", then "Referenced secret … not found"), and the failed issuance
    /// backs off for an hour. A Certificate still without its Secret after
    /// 30 s gets what `cmctl renew` does (Issuing=True, ManuallyTriggered),
    /// once, which starts a fresh issuance.
    fn wait_for_certificate_secrets(&self) {
        let list = self.kubectl(&["get", "certificates", "-A", "-o", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("JSON");
        let certs: Vec<(String, String, String)> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| {
                let text = |v: &serde_json::Value| v.as_str().expect("a string").to_string();
                (
                    text(&c["metadata"]["namespace"]),
                    text(&c["metadata"]["name"]),
                    text(&c["spec"]["secretName"]),
                )
            })
            .collect();
        let issued = |ns: &str, secret: &str| {
            Command::new(&self.kubectl)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(["-n", ns, "get", "secret", secret])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let started = Instant::now();
        let mut renewed = BTreeSet::new();
        loop {
            let missing: Vec<&(String, String, String)> = certs
                .iter()
                .filter(|(ns, _, secret)| !issued(ns, secret))
                .collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "certificates never issued: {missing:?}"
            );
            if started.elapsed() > Duration::from_secs(30) {
                for (ns, name, _) in missing {
                    if renewed.insert(format!("{ns}/{name}")) {
                        eprintln!("certificate {ns}/{name} not issued after 30 s: renewing it");
                        self.kubectl(&[
                            "-n",
                            ns,
                            "patch",
                            "certificate",
                            name,
                            "--subresource=status",
                            "--type=merge",
                            "-p",
                            r#"{"status":{"conditions":[{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"Certificate re-issuance manually triggered"}]}}"#,
                        ]);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Poll a kubectl command until it succeeds (3 minutes at most).
    pub fn wait_for(&self, what: &str, args: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let out = Command::new(&self.kubectl)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args)
                .output()
                .expect("kubectl runs");
            if out.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A kubeconfig that authenticates as rotor's ServiceAccount, with a
    /// token the API server issued for it (as the CronJob's pod has).
    pub fn service_account_kubeconfig(&self) -> PathBuf {
        let token = self.kubectl(&[
            "-n",
            "rotor-system",
            "create",
            "token",
            "rotor",
            "--duration=2h",
        ]);
        let token = String::from_utf8(token.stdout)
            .expect("token")
            .trim()
            .to_string();
        let ca = self.dir.path().join("pki/ca.crt");
        let path = self.dir.path().join("rotor.kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {}\n    certificate-authority: {}\ncontexts:\n- name: rotor\n  context: {{cluster: e2e, user: rotor}}\ncurrent-context: rotor\nusers:\n- name: rotor\n  user:\n    token: {token}\n",
                self.server,
                ca.display()
            ),
        )
        .expect("write kubeconfig");
        path
    }

    pub fn restart_apiserver(&self) {
        must(
            Command::new("bash")
                .arg(script())
                .arg("restart-apiserver")
                .arg(self.dir.path())
                .env("KUBECTL", &self.kubectl),
        );
    }

    /// The API server's audit log: one JSON event per line.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.linkerd = None;
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(self.dir.path())
            .env("KUBECTL", &self.kubectl)
            .output();
        if std::thread::panicking() {
            // Keep the logs of a failed test.
            let kept = self.dir.path().to_path_buf();
            let _ = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir")).keep();
            eprintln!("control plane logs kept in {}", kept.display());
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The proxy injector's registration, pointed at the stand-in on loopback.
fn webhook_config(linkerd: &LinkerdStandIn) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(&linkerd.webhook_ca_pem);
    format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: linkerd-proxy-injector-webhook-config
webhooks:
- name: linkerd-proxy-injector.linkerd.io
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: [CREATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
  namespaceSelector:
    matchExpressions:
    - key: config.linkerd.io/admission-webhooks
      operator: NotIn
      values: [disabled]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 10
"#,
        url = linkerd.webhook_url
    )
}

/// rotor's chart as a site installs it, rendered by the real helm: the
/// certificate chain, the trust bundle, the CronJob and its RBAC. The
/// previous-anchor bootstrap Job is left out: no container runs here, and
/// the default policy bootstraps that Secret itself.
pub fn chart(helm: &Path, values: &[&str]) -> String {
    let mut cmd = Command::new(helm);
    cmd.args(["template", "rotor"])
        .arg(repo().join("charts/rotor"))
        .args([
            "--namespace",
            "rotor-system",
            "--set",
            "previousAnchor.bootstrap.enabled=false",
        ]);
    for v in values {
        cmd.args(["--set", v]);
    }
    let out = must(&mut cmd);
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rotor-system\n---\n";
    format!(
        "{namespace}{}",
        String::from_utf8(out.stdout).expect("utf-8")
    )
}
