//! Offline verification of cosign signatures: the signatures cosign stores
//! beside an artifact (a manifest under the tag `sha256-<digest>.sig`, one
//! `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature,
//! the signature in the `dev.cosignproject.cosign/signature` annotation) are
//! checked against the public keys of a verification config, with no
//! transparency log and no certificate authority consulted. `sigstore`
//! parses the layers and checks each signature; rotor decides how many keys
//! must match and refuses otherwise.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::registry::{Auth, OciReference};

use super::{OciError, PolicyRef, RegistryOptions};
use crate::text::one_line;

/// The exit code of a run refused because its policy is not trusted.
pub const EXIT_UNTRUSTED: u8 = 4;

/// Which keys are trusted and how many of them must have signed.
#[derive(Debug)]
pub struct VerifyConfig {
    pub keys: Vec<TrustedKey>,
    pub threshold: usize,
    pub path: PathBuf,
}

/// One trusted public key.
#[derive(Debug)]
pub struct TrustedKey {
    pub name: String,
    verifier: PublicKeyVerifier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    keys: Vec<KeyFile>,
    #[serde(default = "one")]
    threshold: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    name: Option<String>,
    path: PathBuf,
}

fn one() -> usize {
    1
}

impl VerifyConfig {
    /// Load the config and every key it names; key paths are relative to
    /// the config file. Any unreadable or unparsable key is an error: a
    /// config that trusts fewer keys than it says is not loaded.
    pub fn load(path: &Path) -> Result<Self, OciError> {
        let bad = |message: String| OciError::File {
            what: "verification config",
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let file: ConfigFile =
            serde_norway::from_str(&text).map_err(|e| bad(one_line(&e.to_string())))?;
        if file.keys.is_empty() {
            return Err(bad("`keys` is empty: name at least one public key".into()));
        }
        if file.threshold == 0 || file.threshold > file.keys.len() {
            return Err(bad(format!(
                "`threshold` is {}, must be between 1 and the number of keys ({})",
                file.threshold,
                file.keys.len()
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let keys = file
            .keys
            .into_iter()
            .map(|key| {
                let key_path = base.join(&key.path);
                let name = key.name.unwrap_or_else(|| key.path.display().to_string());
                let pem = std::fs::read(&key_path).map_err(|e| {
                    bad(format!(
                        "key {name} ({}): cannot read: {e}",
                        key_path.display()
                    ))
                })?;
                let verifier = PublicKeyVerifier::try_from(&pem).map_err(|e| {
                    bad(format!(
                        "key {name} ({}): not a PEM public key: {}",
                        key_path.display(),
                        one_line(&e.to_string())
                    ))
                })?;
                Ok(TrustedKey { name, verifier })
            })
            .collect::<Result<Vec<_>, OciError>>()?;
        Ok(Self {
            keys,
            threshold: file.threshold,
            path: path.to_path_buf(),
        })
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The pinned reference that was checked.
    pub reference: String,
    /// Signatures found for that exact digest.
    pub signatures: usize,
    /// Names of the trusted keys that signed it, in config order.
    pub matched: Vec<String>,
    /// Names of the trusted keys that did not.
    pub unmatched: Vec<String>,
    pub threshold: usize,
}

impl Verdict {
    pub fn trusted(&self) -> bool {
        self.matched.len() >= self.threshold
    }

    /// One line: which keys matched, out of how many required.
    pub fn summary(&self) -> String {
        let list = |names: &[String]| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        format!(
            "{}: signed by {} of the {} required key(s) ({} signature(s) found; matched: {}; not matched: {})",
            self.reference,
            self.matched.len(),
            self.threshold,
            self.signatures,
            list(&self.matched),
            list(&self.unmatched)
        )
    }
}

/// A policy refused because it is not signed by enough trusted keys.
#[derive(Debug, thiserror::Error)]
#[error("policy not trusted: {}", .0.summary())]
pub struct VerifyError(pub Verdict);

/// Check the cosign signatures of `reference`, which must be pinned (the
/// signatures are looked up for, and must name, exactly that digest).
pub async fn verify(
    reference: &PolicyRef,
    config: &VerifyConfig,
    options: &RegistryOptions,
) -> Result<Verdict, OciError> {
    let digest = reference.digest().ok_or_else(|| {
        OciError::Reference(format!("{reference}: verification needs a pinned digest"))
    })?;
    let transport = options.transport(reference.registry())?;
    let registry_error = |message: String| OciError::Registry {
        reference: reference.to_string(),
        message,
    };
    let mut client = ClientBuilder::default()
        .with_oci_client_config(transport.sigstore_config())
        .build()
        .map_err(|e| registry_error(one_line(&e.to_string())))?;
    let auth = match options.auth_for(reference)? {
        oci_client::secrets::RegistryAuth::Anonymous => Auth::Anonymous,
        oci_client::secrets::RegistryAuth::Basic(user, password) => Auth::Basic(user, password),
        oci_client::secrets::RegistryAuth::Bearer(token) => Auth::Bearer(token),
    };
    let image = OciReference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        digest.to_string(),
    );
    // Missing or unreadable signature manifests come back as no layers.
    let layers = client
        .trusted_signature_layers(&auth, &image)
        .await
        .map_err(|e| registry_error(one_line(&e.to_string())))?;
    // A signature counts only if its payload names this digest: a registry
    // cannot pass off another artifact's signatures.
    let layers: Vec<_> = layers
        .into_iter()
        .filter(|layer| layer.simple_signing.critical.image.docker_manifest_digest == digest)
        .collect();
    let (matched, unmatched): (Vec<&TrustedKey>, Vec<&TrustedKey>) =
        config.keys.iter().partition(|key| {
            layers
                .iter()
                .any(|layer| key.verifier.verify(layer).unwrap_or(false))
        });
    let names = |keys: Vec<&TrustedKey>| keys.into_iter().map(|k| k.name.clone()).collect();
    Ok(Verdict {
        reference: reference.to_string(),
        signatures: layers.len(),
        matched: names(matched),
        unmatched: names(unmatched),
        threshold: config.threshold,
    })
}

/// How many signatures cosign stored for `reference` (pinned), without
/// checking them: `rotor policy inspect` shows it. `None`: no signature
/// manifest could be read.
pub async fn signature_count(reference: &PolicyRef, options: &RegistryOptions) -> Option<usize> {
    let digest = reference.digest()?;
    let tagged = reference.tagged(&super::archive::signature_tag(digest));
    let (client, auth) = options.client(&tagged).ok()?;
    let (bytes, _) = client
        .pull_manifest_raw(
            tagged.as_reference(),
            &auth,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .ok()?;
    let manifest: oci_client::manifest::OciImageManifest = serde_json::from_slice(&bytes).ok()?;
    Some(manifest.layers.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, text: &str) -> Result<VerifyConfig, OciError> {
        let path = dir.join("verify.yaml");
        std::fs::write(&path, text).expect("write");
        VerifyConfig::load(&path)
    }

    #[test]
    fn a_config_that_trusts_less_than_it_says_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("junk.pub"), "not a key").expect("write");
        for (text, why) in [
            ("keys: []\n", "`keys` is empty"),
            ("keys: [{path: missing.pub}]\n", "key missing.pub"),
            ("keys: [{path: junk.pub}]\n", "not a PEM public key"),
            (
                "keys: [{path: junk.pub}]\nthreshold: 2\n",
                "`threshold` is 2",
            ),
            (
                "keys: [{path: junk.pub}]\nthreshold: 0\n",
                "`threshold` is 0",
            ),
            ("key: []\n", "unknown field"),
        ] {
            let err = config(dir.path(), text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("verify.yaml"), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn the_verdict_needs_threshold_keys() {
        let verdict = Verdict {
            reference: "oci://r.example/p@sha256:00".into(),
            signatures: 1,
            matched: vec!["release".into()],
            unmatched: vec!["security".into()],
            threshold: 2,
        };
        assert!(!verdict.trusted());
        let summary = verdict.summary();
        assert!(
            summary.contains("signed by 1 of the 2 required"),
            "{summary}"
        );
        assert!(summary.contains("not matched: security"), "{summary}");
        assert!(
            Verdict {
                threshold: 1,
                ..verdict
            }
            .trusted()
        );
    }
}
