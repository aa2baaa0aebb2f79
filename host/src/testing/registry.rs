//! A real OCI registry and a real cosign for the policy artifact tests: the
//! CNCF distribution registry (Debian's `docker-registry`, installed by
//! `.ci/install-tools.sh`) on a free loopback port with its storage in a temp
//! dir, and cosign 2 (built by `.ci/build-control-plane.sh`) signing with
//! keys, fully offline. Both are the programs a site runs, so what rotor
//! pushes, pulls and verifies here is what it meets in production.
//!
//! A missing tool skips the test with a printed reason, except under `CI`,
//! where it fails the test: CI must never pass without running these.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The OCI image manifest media type (what rotor and cosign 2 push).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// How long a registry may take to answer on its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// `cosign sign` flags for a key-based signature that never leaves the
/// machine: no transparency log upload (so no Rekor and no TUF fetch), plain
/// HTTP to the loopback registry, no prompt.
pub const COSIGN_SIGN_FLAGS: &[&str] = &[
    "--tlog-upload=false",
    "--allow-http-registry",
    "--allow-insecure-registry",
    "--yes",
];

/// `cosign verify` flags matching [`COSIGN_SIGN_FLAGS`]: no transparency log
/// entry is expected, the registry speaks plain HTTP. [`Cosign::verify`] adds
/// `--trusted-root FILE` with [`EMPTY_TRUSTED_ROOT`]: without a trusted root
/// (or one of the SIGSTORE_* key variables) cosign 2.6 `verify` fetches the
/// public Sigstore TUF root first, even for a key and no tlog (cosign's
/// `cmd/cosign/cli/verify/verify.go`), which hangs or fails off-line.
pub const COSIGN_VERIFY_FLAGS: &[&str] = &[
    "--insecure-ignore-tlog=true",
    "--allow-http-registry",
    "--allow-insecure-registry",
];

/// A Sigstore trusted root with nothing in it: key-based verification needs
/// none of its authorities, and its presence stops the TUF fetch.
pub const EMPTY_TRUSTED_ROOT: &str =
    r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;

/// A tool the test needs is missing: fail under `CI`, else say why the test
/// is skipped.
fn missing(what: &str, how: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} not found (CI is set, so this test must run): {how}"
    );
    eprintln!("skipping: {what} not found ({how})");
}

/// The registry binary: `ROTOR_REGISTRY`, else `docker-registry` on PATH.
fn registry_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROTOR_REGISTRY") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "ROTOR_REGISTRY={} does not exist", p.display());
        return Some(p);
    }
    let found = on_path("docker-registry");
    if found.is_none() {
        missing(
            "docker-registry (the CNCF distribution registry)",
            "run .ci/install-tools.sh as root or set ROTOR_REGISTRY",
        );
    }
    found
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A running registry; the process is killed when this is dropped.
pub struct Registry {
    child: Child,
    port: u16,
    tls: bool,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A registry speaking plain HTTP on 127.0.0.1, or `None` (after a
    /// message) when the binary is missing outside CI.
    pub fn start() -> Option<Registry> {
        Self::launch(None, None)
    }

    /// A plain-HTTP registry that wants HTTP basic credentials (its
    /// `htpasswd` auth with a bcrypt entry, as `htpasswd -B` writes).
    pub fn start_with_login(user: &str, password: &str) -> Option<Registry> {
        Self::launch(None, Some((user, password)))
    }

    /// A registry speaking HTTPS on 127.0.0.1 with this certificate and key
    /// (PEM); see [`ServerTls`] for a pair valid for 127.0.0.1.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Option<Registry> {
        Self::launch(Some((cert_pem, key_pem)), None)
    }

    fn launch(tls: Option<(&str, &str)>, login: Option<(&str, &str)>) -> Option<Registry> {
        let bin = registry_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("rotor-registry-")
            .tempdir()
            .expect("temp dir");
        let tls_config = tls.map_or(String::new(), |(cert, key)| {
            std::fs::write(dir.path().join("tls.crt"), cert).expect("write certificate");
            std::fs::write(dir.path().join("tls.key"), key).expect("write key");
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("tls.crt").display(),
                dir.path().join("tls.key").display()
            )
        });
        let auth_config = login.map_or(String::new(), |(user, password)| {
            let hash = bcrypt::hash_with_result(password, 4)
                .expect("bcrypt")
                .format_for_version(bcrypt::Version::TwoA);
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
            format!(
                "auth:\n  htpasswd:\n    realm: rotor-test\n    path: {}\n",
                path.display()
            )
        });
        // The port is free when picked; another process may take it before
        // the registry binds it, so a registry that exits early is retried.
        for _ in 0..3 {
            let port = free_port();
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 {auth_config}http:\n  addr: 127.0.0.1:{port}\n{tls_config}",
                dir.path().join("storage").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut child = Command::new(&bin)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("{} serve: {e}", bin.display()));
            match wait_ready(&mut child, port, dir.path(), tls.is_some(), login.is_some()) {
                Ok(true) => {
                    return Some(Registry {
                        child,
                        port,
                        tls: tls.is_some(),
                        dir,
                    });
                }
                Ok(false) => {}
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{why}\nthe registry's log:\n{}", read_log(dir.path()));
                }
            }
        }
        panic!("the registry did not start on three free ports in a row");
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://` or `https://` and [`Registry::host`].
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// Pushes one blob (monolithic upload: POST, then PUT with the digest);
    /// returns its digest.
    pub async fn push_blob(&self, client: &reqwest::Client, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let started = client
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base_url()))
            .send()
            .await
            .expect("start upload");
        assert_eq!(started.status(), 202, "start upload: {started:?}");
        let location = started.headers()["location"].to_str().expect("location");
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base_url())
        } else {
            location.to_string()
        };
        let done = client
            .put(location)
            .query(&[("digest", &digest)])
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload blob");
        assert_eq!(done.status(), 201, "upload blob: {done:?}");
        digest
    }

    /// Pushes a one-layer OCI image manifest (config and layer of the given
    /// media types) under `tag`; returns the manifest's digest.
    pub async fn push_artifact(
        &self,
        client: &reqwest::Client,
        repo: &str,
        tag: &str,
        config: (&str, &[u8]),
        layer: (&str, &[u8]),
    ) -> String {
        let config_digest = self.push_blob(client, repo, config.1).await;
        let layer_digest = self.push_blob(client, repo, layer.1).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config.0, "digest": config_digest, "size": config.1.len()},
            "layers": [{"mediaType": layer.0, "digest": layer_digest, "size": layer.1.len()}],
        });
        let body = serde_json::to_vec(&manifest).expect("manifest JSON");
        let put = client
            .put(format!("{}/v2/{repo}/manifests/{tag}", self.base_url()))
            .header("content-type", OCI_MANIFEST)
            .body(body.clone())
            .send()
            .await
            .expect("put manifest");
        assert_eq!(put.status(), 201, "put manifest: {put:?}");
        sha256_digest(&body)
    }

    /// `GET` of a registry path as JSON, asking for OCI manifests.
    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        let resp = client
            .get(format!("{}{path}", self.base_url()))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(resp.status(), 200, "GET {path}: {resp:?}");
        resp.json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// What the registry wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Where the registry keeps a blob's bytes (its filesystem driver's layout).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Overwrites a stored blob with different bytes of the same length, so
    /// the registry serves changed content under the old digest.
    pub fn tamper_blob(&self, digest: &str) {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("blob {digest} at {}: {e}", path.display()));
        let flipped: Vec<u8> = bytes.iter().map(|b| !b).collect();
        std::fs::write(&path, flipped).expect("overwrite blob");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until the registry on `port` answers: `Ok(false)` when it exited
/// because the port was taken, `Err` when it exited otherwise or did not
/// answer within [`START_TIMEOUT`].
fn wait_ready(
    child: &mut Child,
    port: u16,
    dir: &Path,
    tls: bool,
    login: bool,
) -> Result<bool, String> {
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("registry status") {
            if read_log(dir).contains("address already in use") {
                return Ok(false);
            }
            return Err(format!("the registry exited ({status}) before answering"));
        }
        // Plain HTTP: `GET /v2/` answers 200 once the API is served. TLS: Go's
        // server answers a plain request on its TLS port with a 400, which
        // shows the listener is up without a TLS client here.
        match http_get(&host, "/v2/") {
            Some(200) if !tls => return Ok(true),
            // With a login, `/v2/` answers 401 until credentials are sent.
            Some(401) if !tls && login => return Ok(true),
            Some(400) if tls => return Ok(true),
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the registry did not answer on {host} within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
}

pub use crate::oci::sha256_digest;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Status code of a plain HTTP/1.0 GET, or `None` when nothing answers.
fn http_get(host: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A CA and a server certificate for 127.0.0.1 it issued (PEM), for
/// [`Registry::start_tls`] and the clients that trust the CA.
pub struct ServerTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl ServerTls {
    pub fn for_loopback() -> ServerTls {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "rotor test registry CA");
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = server
            .signed_by(&key, &rcgen::Issuer::from_params(&ca, &ca_key))
            .expect("server certificate");
        ServerTls {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// cosign 2, run with a home, Docker config and TUF root of its own (so it
/// neither reads the machine's credentials nor writes outside a temp dir).
pub struct Cosign {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Cosign {
    /// cosign from `ROTOR_COSIGN`, else from the control-plane cache's env
    /// file (`ROTOR_CP_COSIGN`), or `None` (after a message) outside CI.
    pub fn find() -> Option<Cosign> {
        let bin = match std::env::var_os("ROTOR_COSIGN") {
            Some(p) => {
                let p = PathBuf::from(p);
                assert!(p.is_file(), "ROTOR_COSIGN={} does not exist", p.display());
                p
            }
            None => match cached_cosign() {
                Some(p) => p,
                None => {
                    missing(
                        "cosign",
                        "run .ci/build-control-plane.sh or set ROTOR_COSIGN",
                    );
                    return None;
                }
            },
        };
        let home = tempfile::Builder::new()
            .prefix("rotor-cosign-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(home.path().join("trusted-root.json"), EMPTY_TRUSTED_ROOT)
            .expect("write trusted root");
        Some(Cosign { bin, home })
    }

    /// A cosign command with this helper's environment and no password on
    /// the keys it writes or reads.
    pub fn command(&self) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new(&self.bin);
        cmd.env("HOME", home)
            .env("DOCKER_CONFIG", home.join("docker"))
            .env("TUF_ROOT", home.join("tuf"))
            .env("COSIGN_PASSWORD", "")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs cosign with `args` in `dir`.
    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.command()
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", self.bin.display()))
    }

    /// Runs cosign; panics with its output when it fails.
    pub fn must(&self, dir: &Path, args: &[&str]) -> Output {
        let out = self.run(dir, args);
        assert!(out.status.success(), "cosign {args:?} failed: {out:?}");
        out
    }

    /// `cosign generate-key-pair` in `dir`: (cosign.key, cosign.pub).
    pub fn generate_key_pair(&self, dir: &Path) -> (PathBuf, PathBuf) {
        self.must(dir, &["generate-key-pair"]);
        (dir.join("cosign.key"), dir.join("cosign.pub"))
    }

    /// Signs `reference` (`HOST/REPO@sha256:...`) with `key`, offline.
    pub fn sign(&self, key: &Path, reference: &str) {
        let mut args = vec!["sign", "--key", key.to_str().expect("UTF-8 path")];
        args.extend_from_slice(COSIGN_SIGN_FLAGS);
        args.push(reference);
        self.must(self.home.path(), &args);
    }

    /// `cosign verify` of `reference` against the public key `key`, offline.
    pub fn verify(&self, key: &Path, reference: &str) -> Output {
        let mut args = vec!["verify", "--key", key.to_str().expect("UTF-8 path")];
        args.extend_from_slice(COSIGN_VERIFY_FLAGS);
        args.extend_from_slice(&["--trusted-root", "trusted-root.json", reference]);
        self.run(self.home.path(), &args)
    }

    /// True when cosign fetched nothing into its TUF root (signing and
    /// verifying with keys must never reach the public Sigstore instance).
    pub fn tuf_untouched(&self) -> bool {
        std::fs::read_dir(self.home.path().join("tuf")).map_or(true, |mut d| d.next().is_none())
    }
}

/// `ROTOR_CP_COSIGN` of the env file `.ci/build-control-plane.sh` writes.
fn cached_cosign() -> Option<PathBuf> {
    let cache = std::env::var_os("ROTOR_CONTROL_PLANE_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rotor/control-plane"))
        })?;
    let env = std::fs::read_to_string(cache.join("env")).ok()?;
    let path = env
        .lines()
        .find_map(|l| l.strip_prefix("ROTOR_CP_COSIGN="))?
        .trim_matches('\'');
    let path = PathBuf::from(path);
    path.is_file().then_some(path)
}
