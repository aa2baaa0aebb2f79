//! Fetch a policy component from a registry: the manifest, checked against
//! the pinned digest by hashing its bytes (never by trusting a header), the
//! Wasm OCI layout checked, the one `application/wasm` layer checked against
//! the manifest's digest for it. A pinned policy comes from the cache when
//! it is there.

use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_wasm::{WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE};

use super::cache::PolicyCache;
use super::{OciError, PolicyRef, RegistryOptions, sha256_digest};
use crate::text::one_line;

/// A policy fetched from a registry (or the cache), checked by digest.
#[derive(Debug)]
pub struct Pulled {
    /// The reference pinned to the manifest's digest.
    pub reference: PolicyRef,
    pub manifest_digest: String,
    pub manifest: OciImageManifest,
    pub manifest_bytes: Vec<u8>,
    /// The component: the manifest's one `application/wasm` layer.
    pub wasm: Vec<u8>,
    /// Whether it came from the cache (no download).
    pub from_cache: bool,
}

impl Pulled {
    /// The component's layer descriptor.
    pub fn layer(&self) -> &OciDescriptor {
        &self.manifest.layers[0]
    }
}

/// Fetch `reference` through `cache`.
pub async fn pull(
    reference: &PolicyRef,
    options: &RegistryOptions,
    cache: Option<&PolicyCache>,
) -> Result<Pulled, OciError> {
    if let (Some(digest), Some(cache)) = (reference.digest(), cache)
        && let Some(hit) = cache.load(digest)
    {
        return Ok(Pulled {
            reference: reference.pinned(digest),
            manifest_digest: digest.to_string(),
            manifest: hit.manifest,
            manifest_bytes: hit.manifest_bytes,
            wasm: hit.wasm,
            from_cache: true,
        });
    }
    let (client, auth) = options.client(reference)?;
    let registry_error = |e: oci_client::errors::OciDistributionError| OciError::Registry {
        reference: reference.to_string(),
        message: one_line(&e.to_string()),
    };
    let (bytes, _) = client
        .pull_manifest_raw(reference.as_reference(), &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(registry_error)?;
    let manifest_bytes = bytes.to_vec();
    let digest = sha256_digest(&manifest_bytes);
    if let Some(expected) = reference.digest()
        && expected != digest
    {
        return Err(OciError::Digest {
            reference: reference.to_string(),
            what: "manifest",
            expected: expected.to_string(),
            actual: digest,
        });
    }
    let manifest = wasm_manifest(reference, &manifest_bytes)?;
    let layer = manifest.layers[0].clone();
    let mut wasm = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
    client
        .pull_blob(reference.as_reference(), &layer, &mut wasm)
        .await
        .map_err(|e| match e {
            oci_client::errors::OciDistributionError::DigestError(_) => OciError::Digest {
                reference: reference.to_string(),
                what: "component layer",
                expected: layer.digest.clone(),
                actual: sha256_digest(&wasm),
            },
            other => registry_error(other),
        })?;
    // pull_blob checks the digest as it streams; checked again here because
    // the cache and the run trust these bytes from now on.
    let actual = sha256_digest(&wasm);
    if actual != layer.digest {
        return Err(OciError::Digest {
            reference: reference.to_string(),
            what: "component layer",
            expected: layer.digest,
            actual,
        });
    }
    if let Some(cache) = cache {
        cache.store(&digest, &manifest_bytes, &wasm);
    }
    Ok(Pulled {
        reference: reference.pinned(&digest),
        manifest_digest: digest,
        manifest,
        manifest_bytes,
        wasm,
        from_cache: false,
    })
}

/// Parse a manifest and check it is a Wasm component artifact: the Wasm
/// config type and exactly one `application/wasm` layer.
pub fn wasm_manifest(reference: &PolicyRef, bytes: &[u8]) -> Result<OciImageManifest, OciError> {
    let layout = |message: String| OciError::Layout {
        reference: reference.to_string(),
        message,
    };
    let manifest: OciImageManifest = serde_json::from_slice(bytes)
        .map_err(|e| layout(format!("the manifest is not an OCI image manifest: {e}")))?;
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(layout(format!(
            "config media type is {:?}, expected {WASM_MANIFEST_CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => Ok(manifest),
        [layer] => Err(layout(format!(
            "layer media type is {:?}, expected {WASM_LAYER_MEDIA_TYPE}",
            layer.media_type
        ))),
        layers => Err(layout(format!(
            "{} layers, expected exactly one {WASM_LAYER_MEDIA_TYPE} layer",
            layers.len()
        ))),
    }
}
