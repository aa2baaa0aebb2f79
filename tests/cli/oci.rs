//! Policies from a real OCI registry (the CNCF distribution server), signed
//! by the real cosign CLI: `rotor run --guest oci://...@sha256:... --verify`
//! runs a policy signed by a trusted key and refuses it unsigned, signed by
//! another key, or with a changed layer, before it reads the cluster; tags
//! need an explicit allowance; pulls are cached by digest; `save` and `load`
//! carry a policy and its signatures to another registry.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use rotor::runtime::DEFAULT_POLICY;
use rotor::testing::apiserver::TestApiServer;

use rotor::testing::registry::{Cosign, Registry, ServerTls};

/// `rotor` with `args` (no compiled-policy cache unless `cache` is given).
fn rotor(cache: Option<&Path>, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rotor"));
    match cache {
        Some(dir) => command.arg("--cache-dir").arg(dir),
        None => command.arg("--no-cache"),
    };
    command.args(args).output().expect("rotor runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// The last line of stderr, which must be rotor's one-line error.
fn error_line(out: &Output) -> String {
    let text = stderr(out);
    let last = text.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: "), "{text}");
    last
}

/// Push the built-in policy to `repo` on `registry`; its pinned reference.
fn push_default(registry: &Registry, dir: &Path, repo: &str) -> String {
    let wasm = dir.join("policy.wasm");
    std::fs::write(&wasm, DEFAULT_POLICY).expect("write policy");
    let target = format!("oci://{}/{repo}:v1", registry.host());
    let out = rotor(None, &["policy", "push", wasm.to_str().unwrap(), &target]);
    assert!(out.status.success(), "push: {out:?}");
    let pinned = stdout(&out);
    assert!(
        pinned.starts_with(&format!("oci://{}/{repo}@sha256:", registry.host())),
        "{pinned}"
    );
    pinned
}

/// A verification config trusting `keys` (name, public key path), `threshold` of them.
fn verify_config(dir: &Path, name: &str, keys: &[(&str, &Path)], threshold: usize) -> PathBuf {
    let mut text = String::from("keys:\n");
    for (key_name, path) in keys {
        text.push_str(&format!(
            "  - name: {key_name}\n    path: {}\n",
            path.display()
        ));
    }
    text.push_str(&format!("threshold: {threshold}\n"));
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write verify config");
    path
}

/// A fresh key pair in `dir/name`: (private key, public key).
fn key_pair(cosign: &Cosign, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).expect("key dir");
    cosign.generate_key_pair(&dir)
}

/// `HOST/REPO@sha256:...` as cosign names what it signs.
fn cosign_ref(pinned: &str) -> String {
    pinned.trim_start_matches("oci://").to_string()
}

/// The demo mesh in the present, behind a test API server.
async fn demo_cluster(dir: &Path) -> (TestApiServer, String) {
    let (server, kubeconfig) =
        crate::support::serve_with_kubeconfig(crate::support::demo_in_the_present(), dir).await;
    (server, kubeconfig.display().to_string())
}

async fn run_blocking(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rotor(None, &args)
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_takes_only_a_policy_signed_by_a_trusted_key() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(cosign) = Cosign::find() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let pinned = push_default(&registry, dir.path(), "rotor/policy");
    let (trusted_key, trusted_pub) = key_pair(&cosign, dir.path(), "trusted");
    let (other_key, _) = key_pair(&cosign, dir.path(), "other");
    let verify = verify_config(dir.path(), "verify.yaml", &[("release", &trusted_pub)], 1);
    let (server, kubeconfig) = demo_cluster(dir.path()).await;
    let run = |guest: &str| {
        let args = [
            "run",
            "--kubeconfig",
            &kubeconfig,
            "--output",
            "json",
            "--guest",
            guest,
            "--verify",
            verify.to_str().unwrap(),
        ];
        run_blocking(args.iter().map(|a| a.to_string()).collect())
    };

    // Unsigned: refused with exit 4, and the cluster never read.
    let out = run(&pinned).await;
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let line = error_line(&out);
    assert!(line.contains("policy not trusted"), "{line}");
    assert!(line.contains("signed by 0 of the 1 required"), "{line}");
    assert!(
        server.request_log().is_empty(),
        "{:?}",
        server.request_log()
    );

    // Signed by a key the config does not trust: still refused.
    cosign.sign(&other_key, &cosign_ref(&pinned));
    let out = run(&pinned).await;
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let line = error_line(&out);
    assert!(line.contains("1 signature(s) found"), "{line}");
    assert!(line.contains("not matched: release"), "{line}");
    assert!(server.request_log().is_empty());

    // Signed by the trusted key: the rotation runs.
    cosign.sign(&trusted_key, &cosign_ref(&pinned));
    let out = run(&pinned).await;
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["outcome"], "succeeded", "{report}");
    assert_eq!(report["policy"]["source"], pinned.as_str(), "{report}");

    // The same digest with a changed layer in the registry: refused by digest.
    let digest = layer_digest(&pinned);
    registry.tamper_blob(&digest);
    let out = run(&pinned).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let line = error_line(&out);
    assert!(line.contains("component layer digest mismatch"), "{line}");
}

/// `rotor policy verify` of `pinned` against the config at `config`.
fn verify(pinned: &str, config: &Path) -> Output {
    rotor(
        None,
        &[
            "policy",
            "verify",
            pinned,
            "--verify",
            config.to_str().unwrap(),
        ],
    )
}

/// The component layer's digest, as `rotor policy inspect` reports it.
fn layer_digest(pinned: &str) -> String {
    let out = rotor(None, &["policy", "inspect", pinned, "--output", "json"]);
    assert!(out.status.success(), "{out:?}");
    let inspection: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    inspection["layer_digest"]
        .as_str()
        .expect("layer digest")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_plan_want_a_digest_unless_a_tag_is_allowed() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pinned = push_default(&registry, dir.path(), "rotor/policy");
    let tagged = format!("{}:v1", pinned.split('@').next().unwrap());
    let (server, kubeconfig) = demo_cluster(dir.path()).await;
    for command in ["run", "plan"] {
        let args = [command, "--kubeconfig", &kubeconfig, "--guest", &tagged];
        let out = run_blocking(args.iter().map(|a| a.to_string()).collect()).await;
        assert_eq!(out.status.code(), Some(2), "{command}: {out:?}");
        let line = error_line(&out);
        assert!(line.contains("names no digest"), "{line}");
        assert!(line.contains("--allow-unpinned-guest"), "{line}");
    }
    assert!(server.request_log().is_empty());
    // Allowed explicitly, the tag is resolved and the plan runs.
    let args = [
        "plan",
        "--kubeconfig",
        &kubeconfig,
        "--guest",
        &tagged,
        "--allow-unpinned-guest",
    ];
    let out = run_blocking(args.iter().map(|a| a.to_string()).collect()).await;
    assert!(out.status.success(), "{out:?}");
    // `simulate` takes a tag as it is.
    let out = rotor(None, &["simulate", "--guest", &tagged]);
    assert!(out.status.success(), "{out:?}");
    // A reference to nothing: one line naming it.
    let missing = format!("oci://{}/rotor/none:v1", registry.host());
    let out = rotor(None, &["simulate", "--guest", &missing]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(error_line(&out).contains(&missing), "{out:?}");
}

#[tokio::test]
async fn a_pinned_policy_is_downloaded_once() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let pinned = push_default(&registry, dir.path(), "rotor/policy");
    let out_file = dir.path().join("pulled.wasm");
    let pull = || {
        let started = Instant::now();
        let out = rotor(
            Some(&cache),
            &["policy", "pull", &pinned, "-o", out_file.to_str().unwrap()],
        );
        (out, started.elapsed())
    };
    let (first, cold) = pull();
    assert!(first.status.success(), "{first:?}");
    assert!(stdout(&first).ends_with("from the registry)"), "{first:?}");
    assert_eq!(std::fs::read(&out_file).expect("written"), DEFAULT_POLICY);
    // The registry gone, the pinned policy still comes: from the cache.
    drop(registry);
    let (second, warm) = pull();
    assert!(second.status.success(), "{second:?}");
    assert!(stdout(&second).ends_with("from the cache)"), "{second:?}");
    eprintln!(
        "pull of {} bytes: {cold:?} from the registry, {warm:?} from the cache",
        DEFAULT_POLICY.len()
    );
    // A cache entry changed on disk is not used: with no registry, it fails.
    let entry = std::fs::read_dir(cache.join("oci/sha256"))
        .expect("cache dir")
        .next()
        .expect("one entry")
        .expect("entry")
        .path();
    let component = entry.join("component.wasm");
    let mut bytes = std::fs::read(&component).expect("cached");
    bytes[100] ^= 0xff;
    std::fs::write(&component, bytes).expect("tamper");
    let (third, _) = pull();
    assert_eq!(third.status.code(), Some(2), "{third:?}");
}

#[tokio::test]
async fn verify_counts_keys_against_the_threshold() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(cosign) = Cosign::find() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let pinned = push_default(&registry, dir.path(), "rotor/policy");
    let (release_key, release_pub) = key_pair(&cosign, dir.path(), "release");
    let (_, security_pub) = key_pair(&cosign, dir.path(), "security");
    cosign.sign(&release_key, &cosign_ref(&pinned));
    let both = verify_config(
        dir.path(),
        "both.yaml",
        &[("release", &release_pub), ("security", &security_pub)],
        2,
    );
    let either = verify_config(
        dir.path(),
        "either.yaml",
        &[("release", &release_pub), ("security", &security_pub)],
        1,
    );
    let out = verify(&pinned, &both);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("matched      release"), "{text}");
    assert!(text.contains("not matched  security"), "{text}");
    assert!(text.ends_with("not trusted"), "{text}");
    let out = verify(&pinned, &either);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).ends_with("\ntrusted"), "{out:?}");
    // inspect shows the signature without checking it.
    let out = rotor(None, &["policy", "inspect", &pinned]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("1 cosign signature(s)"), "{text}");
    assert!(text.contains("runnable: yes"), "{text}");

    // A malformed signature (its payload changed in the registry) counts
    // for nothing: the policy is no longer trusted.
    let digest = pinned.split('@').nth(1).unwrap();
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let client = reqwest::Client::new();
    let signatures = registry
        .get_json(&client, &format!("/v2/rotor/policy/manifests/{tag}"))
        .await;
    registry.tamper_blob(signatures["layers"][0]["digest"].as_str().unwrap());
    let out = verify(&pinned, &either);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(
        stdout(&out).contains("signed by 0 of the 1 required"),
        "{out:?}"
    );
}

#[tokio::test]
async fn save_and_load_carry_the_policy_and_its_signatures() {
    let Some(origin) = Registry::start() else {
        return;
    };
    let Some(cosign) = Cosign::find() else { return };
    let Some(site) = Registry::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pinned = push_default(&origin, dir.path(), "rotor/policy");
    let (key, public) = key_pair(&cosign, dir.path(), "release");
    cosign.sign(&key, &cosign_ref(&pinned));
    let archive = dir.path().join("policy.tar");
    let out = rotor(
        None,
        &["policy", "save", &pinned, "-o", archive.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("with its signatures"), "{out:?}");
    drop(origin);

    let target = format!("oci://{}/mirror/policy", site.host());
    let out = rotor(
        None,
        &["policy", "load", archive.to_str().unwrap(), &target],
    );
    assert!(out.status.success(), "{out:?}");
    let loaded = stdout(&out);
    let digest = pinned.split('@').nth(1).unwrap();
    assert_eq!(loaded, format!("{target}@{digest}"));
    let config = verify_config(dir.path(), "verify.yaml", &[("release", &public)], 1);
    let out = verify(&loaded, &config);
    assert!(out.status.success(), "the signature travelled: {out:?}");

    // One changed byte in the archive: refused, nothing pushed.
    let bytes = std::fs::read(&archive).expect("archive");
    let wasm_at = bytes
        .windows(4)
        .position(|w| w == b"\0asm")
        .expect("the component is in the archive");
    let mut changed = bytes.clone();
    changed[wasm_at + 64] ^= 0xff;
    let changed_path = dir.path().join("changed.tar");
    std::fs::write(&changed_path, changed).expect("write");
    let other = format!("oci://{}/other/policy", site.host());
    let out = rotor(
        None,
        &["policy", "load", changed_path.to_str().unwrap(), &other],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        error_line(&out).contains("does not match its digest"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_registry_with_a_private_ca_is_trusted_only_with_that_ca() {
    let tls = ServerTls::for_loopback();
    let Some(registry) = Registry::start_tls(&tls.cert_pem, &tls.key_pem) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).expect("write CA");
    let wasm = dir.path().join("policy.wasm");
    std::fs::write(&wasm, DEFAULT_POLICY).expect("write policy");
    let target = format!("oci://{}/rotor/policy:v1", registry.host());
    let wasm = wasm.to_str().unwrap();
    // Loopback without a CA means plain HTTP, which a TLS registry refuses.
    let out = rotor(None, &["policy", "push", wasm, &target]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(error_line(&out).contains(&target), "{out:?}");
    let with_ca = ["--registry-ca", ca.to_str().unwrap()];
    let out = rotor(
        None,
        &[&["policy", "push", wasm, &target][..], &with_ca].concat(),
    );
    assert!(out.status.success(), "{out:?}");
    let pinned = stdout(&out);
    let out = rotor(
        None,
        &[&["simulate", "--guest", &pinned][..], &with_ca].concat(),
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn verify_needs_a_registry_policy_and_a_sound_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = dir.path().join("policy.wasm");
    std::fs::write(&wasm, DEFAULT_POLICY).expect("write policy");
    let config = dir.path().join("verify.yaml");
    std::fs::write(&config, "keys: [{path: missing.pub}]\n").expect("write");
    let config = config.to_str().unwrap();
    let wasm = wasm.to_str().unwrap();
    let simulate = || rotor(None, &["simulate", "--guest", wasm, "--verify", config]);
    let out = simulate();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(error_line(&out).contains("key missing.pub"), "{out:?}");
    // A sound config, but the policy is a file: nothing to verify.
    let key = rcgen::KeyPair::generate().expect("key");
    std::fs::write(dir.path().join("k.pub"), key.public_key_pem()).expect("write key");
    std::fs::write(dir.path().join("verify.yaml"), "keys: [{path: k.pub}]\n").expect("write");
    let out = simulate();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        error_line(&out).contains("--verify checks the signatures of an oci:// policy"),
        "{out:?}"
    );
    let out = rotor(None, &["simulate", "--guest", "oci://no-host-given:v1"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_registry_login_comes_from_a_docker_config() {
    use base64::Engine as _;
    let Some(registry) = Registry::start_with_login("robot", "s3cret") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = dir.path().join("policy.wasm");
    std::fs::write(&wasm, DEFAULT_POLICY).expect("write policy");
    let wasm = wasm.to_str().unwrap();
    let target = format!("oci://{}/private/policy:v1", registry.host());
    let auth_file = |name: &str, user_pass: &str| {
        let path = dir.path().join(name);
        let auth = base64::engine::general_purpose::STANDARD.encode(user_pass);
        let text = format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.host()
        );
        std::fs::write(&path, text).expect("write docker config");
        path.display().to_string()
    };
    // Anonymous and wrong credentials: refused by the registry, one line.
    let out = rotor(None, &["policy", "push", wasm, &target]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(error_line(&out).contains(&target), "{out:?}");
    let wrong = auth_file("wrong.json", "robot:guess");
    let out = rotor(
        None,
        &["policy", "push", wasm, &target, "--registry-auth", &wrong],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // The right ones: push, then a run's pull, both with the config.
    let right = auth_file("config.json", "robot:s3cret");
    let out = rotor(
        None,
        &["policy", "push", wasm, &target, "--registry-auth", &right],
    );
    assert!(out.status.success(), "{out:?}");
    let pinned = stdout(&out);
    let out = rotor(
        None,
        &["simulate", "--guest", &pinned, "--registry-auth", &right],
    );
    assert!(out.status.success(), "{out:?}");
    let out = rotor(None, &["simulate", "--guest", &pinned]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "anonymous pull refused: {out:?}"
    );
}
