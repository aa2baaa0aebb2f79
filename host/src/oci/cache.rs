//! Pulled policies kept by manifest digest, so a pinned policy is
//! downloaded once. Everything read back is checked again against its
//! digest: a cache entry that does not hash to its name is dropped and
//! pulled anew, never run.

use std::path::{Path, PathBuf};

use oci_client::manifest::OciImageManifest;

use super::sha256_digest;

const MANIFEST: &str = "manifest.json";
const COMPONENT: &str = "component.wasm";

/// The cache directory (`<dir>/sha256/<hex>/{manifest.json,component.wasm}`).
#[derive(Debug, Clone)]
pub struct PolicyCache {
    dir: PathBuf,
}

/// A cache entry whose bytes matched their digests.
pub struct Cached {
    pub manifest_bytes: Vec<u8>,
    pub manifest: OciImageManifest,
    pub wasm: Vec<u8>,
}

impl PolicyCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn entry(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        Some(self.dir.join("sha256").join(hex))
    }

    /// The entry for `digest`, if present and intact.
    pub fn load(&self, digest: &str) -> Option<Cached> {
        let entry = self.entry(digest)?;
        let manifest_bytes = std::fs::read(entry.join(MANIFEST)).ok()?;
        let wasm = std::fs::read(entry.join(COMPONENT)).ok()?;
        let intact = (|| {
            if sha256_digest(&manifest_bytes) != digest {
                return None;
            }
            let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes).ok()?;
            let layer = manifest.layers.first()?;
            (sha256_digest(&wasm) == layer.digest).then_some(manifest)
        })();
        match intact {
            Some(manifest) => Some(Cached {
                manifest_bytes,
                manifest,
                wasm,
            }),
            None => {
                tracing::warn!(%digest, "cached policy does not match its digest; pulling again");
                let _ = std::fs::remove_dir_all(&entry);
                None
            }
        }
    }

    /// Keep a pulled policy. Written aside and renamed into place, so a
    /// reader never sees half an entry; a failure only costs a later pull.
    pub fn store(&self, digest: &str, manifest_bytes: &[u8], wasm: &[u8]) {
        let Some(entry) = self.entry(digest) else {
            return;
        };
        if let Err(e) = write_entry(&entry, manifest_bytes, wasm) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot cache the pulled policy");
        }
    }
}

fn write_entry(entry: &Path, manifest_bytes: &[u8], wasm: &[u8]) -> std::io::Result<()> {
    let parent = entry.parent().unwrap_or(entry);
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(parent)?;
    std::fs::write(staging.path().join(MANIFEST), manifest_bytes)?;
    std::fs::write(staging.path().join(COMPONENT), wasm)?;
    match std::fs::rename(staging.path(), entry) {
        Ok(()) => {
            // Renamed away: nothing left for the guard to delete.
            let _ = staging.keep();
            Ok(())
        }
        // Another process cached the same digest first: same bytes.
        Err(_) if entry.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}
