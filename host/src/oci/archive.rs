//! One file that carries a policy and its cosign signatures into an
//! air-gapped site: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`) in a tar archive, as `oras` and `skopeo` also
//! read and write. `save` copies from a registry into the file, `load` from
//! the file into another registry; every blob is checked against its digest
//! on the way in and out, so a changed byte is refused, not carried.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use oci_client::manifest::{
    ImageIndexEntry, OCI_IMAGE_MEDIA_TYPE, OciImageIndex, OciImageManifest,
};

use super::pull::wasm_manifest;
use super::{OciError, PolicyRef, RegistryOptions, sha256_digest};
use crate::text::one_line;

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX: &str = "index.json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest archive `load` reads (policies are a few MiB).
const MAX_ARCHIVE: u64 = 256 * 1024 * 1024;

/// cosign's tag for the signatures of `digest`: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The policy, pinned (in the registry it was saved from or loaded into).
    pub reference: PolicyRef,
    /// Whether cosign signatures travel with it.
    pub signatures: bool,
}

/// A manifest and the blobs it names, as read from a registry or a file.
struct Artifact {
    manifest_bytes: Vec<u8>,
    manifest: OciImageManifest,
    blobs: Vec<(String, Vec<u8>)>,
}

/// Copy `reference` (pinned) and its signatures into the archive at `out`.
pub async fn save(
    reference: &PolicyRef,
    options: &RegistryOptions,
    out: &Path,
) -> Result<Archived, OciError> {
    let digest = reference
        .digest()
        .ok_or_else(|| OciError::Reference(format!("{reference}: save needs a pinned digest")))?;
    let policy = fetch(reference, options).await?;
    if sha256_digest(&policy.manifest_bytes) != digest {
        return Err(OciError::Digest {
            reference: reference.to_string(),
            what: "manifest",
            expected: digest.to_string(),
            actual: sha256_digest(&policy.manifest_bytes),
        });
    }
    wasm_manifest(reference, &policy.manifest_bytes)?;
    let sig_tag = signature_tag(digest);
    // No signature manifest is not an error here: `verify` decides.
    let signatures = fetch(&reference.tagged(&sig_tag), options).await.ok();
    let mut entries = vec![(None, &policy)];
    if let Some(signatures) = &signatures {
        entries.push((Some(sig_tag.as_str()), signatures));
    }
    write_archive(out, &entries).map_err(|e| OciError::File {
        what: "archive",
        path: out.to_path_buf(),
        message: format!("cannot write: {e}"),
    })?;
    Ok(Archived {
        reference: reference.clone(),
        signatures: signatures.is_some(),
    })
}

/// Push the archive at `path` into `target`'s repository; the policy pinned
/// there.
pub async fn load(
    path: &Path,
    target: &PolicyRef,
    options: &RegistryOptions,
) -> Result<Archived, OciError> {
    let bad = |message: String| OciError::File {
        what: "archive",
        path: path.to_path_buf(),
        message,
    };
    let files = read_archive(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    if !files.contains_key(LAYOUT_FILE) {
        return Err(bad("not an OCI image layout (no oci-layout file)".into()));
    }
    let index: OciImageIndex = files
        .get(INDEX)
        .ok_or_else(|| bad("no index.json".into()))
        .and_then(|bytes| {
            serde_json::from_slice(bytes).map_err(|e| bad(format!("index.json: {e}")))
        })?;
    let blob = |digest: &str| -> Result<Vec<u8>, OciError> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let bytes = files
            .get(&format!("blobs/sha256/{hex}"))
            .ok_or_else(|| bad(format!("blob {digest} is missing")))?;
        if sha256_digest(bytes) != digest {
            return Err(bad(format!("blob {digest} does not match its digest")));
        }
        Ok(bytes.clone())
    };
    let mut policy = None;
    let mut signatures = None;
    for entry in &index.manifests {
        let manifest_bytes = blob(&entry.digest)?;
        let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| bad(format!("manifest {}: {e}", entry.digest)))?;
        let mut blobs = vec![(
            manifest.config.digest.clone(),
            blob(&manifest.config.digest)?,
        )];
        for layer in &manifest.layers {
            blobs.push((layer.digest.clone(), blob(&layer.digest)?));
        }
        let artifact = Artifact {
            manifest_bytes,
            manifest,
            blobs,
        };
        match entry.annotations.as_ref().and_then(|a| a.get(REF_NAME)) {
            Some(tag) if tag.ends_with(".sig") => signatures = Some((tag.clone(), artifact)),
            _ => policy = Some((entry.digest.clone(), artifact)),
        }
    }
    let (digest, policy) = policy.ok_or_else(|| bad("no policy manifest in index.json".into()))?;
    let pinned = target.pinned(&digest);
    wasm_manifest(&pinned, &policy.manifest_bytes)?;
    send(&pinned, &policy, options).await?;
    if let Some((tag, signatures)) = &signatures {
        if *tag != signature_tag(&digest) {
            return Err(bad(format!(
                "signature tag {tag} does not belong to {digest}"
            )));
        }
        send(&target.tagged(tag), signatures, options).await?;
    }
    Ok(Archived {
        reference: pinned,
        signatures: signatures.is_some(),
    })
}

/// A manifest (by tag or digest) and its blobs from a registry.
async fn fetch(reference: &PolicyRef, options: &RegistryOptions) -> Result<Artifact, OciError> {
    let (client, auth) = options.client(reference)?;
    let error = |e: oci_client::errors::OciDistributionError| OciError::Registry {
        reference: reference.to_string(),
        message: one_line(&e.to_string()),
    };
    let (bytes, _) = client
        .pull_manifest_raw(reference.as_reference(), &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(error)?;
    let manifest: OciImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| OciError::Layout {
            reference: reference.to_string(),
            message: format!("the manifest is not an OCI image manifest: {e}"),
        })?;
    let mut blobs = Vec::new();
    for descriptor in std::iter::once(&manifest.config).chain(&manifest.layers) {
        let mut data = Vec::new();
        client
            .pull_blob(reference.as_reference(), descriptor, &mut data)
            .await
            .map_err(error)?;
        blobs.push((descriptor.digest.clone(), data));
    }
    Ok(Artifact {
        manifest_bytes: bytes.to_vec(),
        manifest,
        blobs,
    })
}

/// Push an artifact's blobs, then its manifest, to `reference`.
async fn send(
    reference: &PolicyRef,
    artifact: &Artifact,
    options: &RegistryOptions,
) -> Result<(), OciError> {
    let (client, auth) = options.client(reference)?;
    let error = |e: oci_client::errors::OciDistributionError| OciError::Registry {
        reference: reference.to_string(),
        message: one_line(&e.to_string()),
    };
    client
        .auth(
            reference.as_reference(),
            &auth,
            oci_client::RegistryOperation::Push,
        )
        .await
        .map_err(error)?;
    for (digest, data) in &artifact.blobs {
        client
            .push_blob(reference.as_reference(), data.clone(), digest)
            .await
            .map_err(error)?;
    }
    let media_type = artifact
        .manifest
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_IMAGE_MEDIA_TYPE.to_string());
    let content_type = media_type.parse().map_err(|_| OciError::Layout {
        reference: reference.to_string(),
        message: format!("manifest media type {media_type:?} is not a header value"),
    })?;
    client
        .push_manifest_raw(
            reference.as_reference(),
            artifact.manifest_bytes.clone(),
            content_type,
        )
        .await
        .map_err(error)?;
    Ok(())
}

fn write_archive(out: &Path, entries: &[(Option<&str>, &Artifact)]) -> std::io::Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = tempfile::NamedTempFile::new_in(dir)?;
    let mut tar = tar::Builder::new(staging.as_file());
    let mut add = |name: &str, data: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
    };
    add(LAYOUT_FILE, LAYOUT.as_bytes())?;
    let mut manifests = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for (tag, artifact) in entries {
        let digest = sha256_digest(&artifact.manifest_bytes);
        let blobs = std::iter::once((&digest, &artifact.manifest_bytes))
            .chain(artifact.blobs.iter().map(|(d, b)| (d, b)));
        for (blob_digest, data) in blobs {
            if written.insert(blob_digest.clone()) {
                let hex = blob_digest.strip_prefix("sha256:").unwrap_or(blob_digest);
                add(&format!("blobs/sha256/{hex}"), data)?;
            }
        }
        manifests.push(ImageIndexEntry {
            media_type: OCI_IMAGE_MEDIA_TYPE.to_string(),
            digest,
            size: artifact.manifest_bytes.len() as i64,
            platform: None,
            annotations: tag.map(|t| BTreeMap::from([(REF_NAME.to_string(), t.to_string())])),
            artifact_type: None,
        });
    }
    let index = OciImageIndex {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.index.v1+json".to_string()),
        manifests,
        artifact_type: None,
        annotations: None,
    };
    let index = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    add(INDEX, &index)?;
    tar.finish()?;
    drop(tar);
    staging.persist(out).map_err(|e| e.error)?;
    Ok(())
}

fn read_archive(path: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(file.take(MAX_ARCHIVE));
    let mut files = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.insert(name, data);
    }
    Ok(files)
}
