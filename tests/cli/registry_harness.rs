//! The registry test harness itself (tests/support/registry.rs): the real
//! registry stores what is pushed with the distribution API's plain calls,
//! cosign 2 signs it offline and stores the signature where rotor reads it
//! (the `sha256-<digest>.sig` tag), verification accepts the signing key and
//! rejects another, a tampered blob is served changed under its old digest,
//! and the TLS variant serves a certificate a custom CA vouches for. The
//! policy artifact tests build on each of these facts.

use rotor::testing::registry::{Cosign, OCI_MANIFEST, Registry, ServerTls, sha256_digest};

const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
const WASM_LAYER: &str = "application/wasm";
/// What cosign 2 stores for a signature (cosign's `pkg/types` and
/// `pkg/oci/static` name them).
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Push a tiny Wasm artifact; its pinned reference and manifest digest.
async fn push_tiny(registry: &Registry, client: &reqwest::Client, repo: &str) -> (String, String) {
    let digest = registry
        .push_artifact(
            client,
            repo,
            "v1",
            (WASM_CONFIG, b"{}"),
            (WASM_LAYER, b"\0asm\x0d\0\x01\0"),
        )
        .await;
    (format!("{}/{repo}@{digest}", registry.host()), digest)
}

#[tokio::test]
async fn cosign_signs_offline_under_the_sig_tag_and_verifies_with_its_key_only() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(cosign) = Cosign::find() else {
        return;
    };
    let client = reqwest::Client::new();
    let repo = "policies/harness";
    let (reference, digest) = push_tiny(&registry, &client, repo).await;

    let keys = tempfile::tempdir().unwrap();
    let (signer, other) = (keys.path().join("signer"), keys.path().join("other"));
    std::fs::create_dir_all(&signer).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let (key, public) = cosign.generate_key_pair(&signer);
    let (_, other_public) = cosign.generate_key_pair(&other);
    cosign.sign(&key, &reference);

    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let tags = registry
        .get_json(&client, &format!("/v2/{repo}/tags/list"))
        .await;
    let tags: Vec<&str> = tags["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&sig_tag.as_str()), "{tags:?}");

    let sig = registry
        .get_json(&client, &format!("/v2/{repo}/manifests/{sig_tag}"))
        .await;
    assert_eq!(sig["mediaType"], OCI_MANIFEST, "{sig:#}");
    let layer = &sig["layers"][0];
    assert_eq!(layer["mediaType"], SIMPLESIGNING, "{sig:#}");
    assert!(
        layer["annotations"][SIGNATURE_ANNOTATION].is_string(),
        "{sig:#}"
    );

    let ok = cosign.verify(&public, &reference);
    assert!(ok.status.success(), "verify with the signing key: {ok:?}");
    let wrong = cosign.verify(&other_public, &reference);
    assert!(
        !wrong.status.success(),
        "verify with another key: {wrong:?}"
    );
    assert!(cosign.tuf_untouched(), "cosign fetched Sigstore's TUF root");
}

#[tokio::test]
async fn a_tampered_blob_is_served_changed_under_its_digest() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let client = reqwest::Client::new();
    let bytes = b"policy bytes";
    let digest = registry.push_blob(&client, "policies/tamper", bytes).await;
    registry.tamper_blob(&digest);
    let served = client
        .get(format!(
            "{}/v2/policies/tamper/blobs/{digest}",
            registry.base_url()
        ))
        .send()
        .await
        .expect("GET blob");
    assert_eq!(served.status(), 200, "{served:?}");
    let served = served.bytes().await.expect("blob body");
    assert_eq!(served.len(), bytes.len());
    assert_ne!(sha256_digest(&served), digest);
}

#[tokio::test]
async fn the_tls_registry_is_trusted_through_its_ca() {
    let tls = ServerTls::for_loopback();
    let Some(registry) = Registry::start_tls(&tls.cert_pem, &tls.key_pem) else {
        return;
    };
    assert!(registry.base_url().starts_with("https://"));
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let v2 = registry.get_json(&trusting, "/v2/").await;
    assert!(v2.is_object(), "{v2}");
    let untrusting = reqwest::Client::new();
    let refused = untrusting
        .get(format!("{}/v2/", registry.base_url()))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "an unknown CA must be refused: {refused:?}"
    );
}
