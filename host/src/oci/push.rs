//! Publish a component in the CNCF Wasm OCI layout (`oci-wasm` builds the
//! config: the component's WIT world and exports, for registries and tools
//! that show them) and answer the reference pinned to what the registry
//! now serves.

use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use oci_wasm::{WasmClient, WasmConfig};

use super::{OciError, PolicyRef, RegistryOptions, sha256_digest};
use crate::text::one_line;

/// The tag a push without one goes to.
pub const DEFAULT_TAG: &str = "latest";

/// Push `wasm` to `reference` (a tag, `latest` by default); the reference
/// pinned to the pushed manifest's digest.
pub async fn push(
    wasm: Vec<u8>,
    reference: &PolicyRef,
    options: &RegistryOptions,
) -> Result<PolicyRef, OciError> {
    if reference.digest().is_some() {
        return Err(OciError::Reference(format!(
            "{reference}: push to a tag, not a digest (the digest is the registry's answer)"
        )));
    }
    let target = match reference.as_reference().tag() {
        Some(_) => reference.clone(),
        None => reference.tagged(DEFAULT_TAG),
    };
    let (config, layer) =
        WasmConfig::from_raw_component(wasm, None).map_err(|e| OciError::Layout {
            reference: target.to_string(),
            message: format!("not a WebAssembly component: {}", one_line(&e.to_string())),
        })?;
    let (client, auth) = options.client(&target)?;
    let registry_error = |e: String| OciError::Registry {
        reference: target.to_string(),
        message: one_line(&e),
    };
    let client = WasmClient::new(client);
    client
        .push(target.as_reference(), &auth, layer, config, None)
        .await
        .map_err(|e| registry_error(format!("{e:#}")))?;
    // The digest of the bytes the registry serves under the tag now.
    let (bytes, _) = client
        .pull_manifest_raw(target.as_reference(), &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    Ok(target.pinned(&sha256_digest(&bytes)))
}
