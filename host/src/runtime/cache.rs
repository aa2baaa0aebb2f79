//! Compiled policies cached on disk, so a run starts in milliseconds rather
//! than recompiling the component each time.
//!
//! The key is the SHA-256 of the wasm plus the engine's compatibility hash
//! (wasmtime version and settings): an entry from another rotor build simply
//! never matches. Entries are written to a temporary file and renamed, so a
//! reader never sees half an entry. A cache that cannot be written (read-only
//! root filesystem in a container) costs a recompile, never the run.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components go: `--cache-dir`, then `ROTOR_CACHE_DIR`, then
/// `$XDG_CACHE_HOME/rotor`, then `~/.cache/rotor`.
pub fn default_cache_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    let non_empty = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = non_empty("ROTOR_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(dir.join("rotor"));
    }
    non_empty("HOME").map(|home| home.join(".cache").join("rotor"))
}

/// Feeds `Hash` output into SHA-256 so the key is stable across processes
/// (`DefaultHasher` promises no such thing).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The cache key of `wasm` compiled by `engine`.
pub fn cache_key(engine: &Engine, wasm_sha256: &str) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hex::encode(hasher.0.finalize());
    format!("{wasm_sha256}-{}", &engine_hash[..16])
}

pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    pub fn new(dir: PathBuf) -> ComponentCache {
        ComponentCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The cached component, if present and loadable by this engine.
    pub fn load(&self, engine: &Engine, key: &str) -> Option<Component> {
        let path = self.entry(key);
        if !path.is_file() {
            return None;
        }
        // SAFETY: entries are only ever written by `store` below from
        // `Component::serialize` of this engine configuration (the key holds
        // its compatibility hash), and renamed into place whole; wasmtime
        // still checks the header and version and fails cleanly on mismatch.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable cache entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Save a compiled component; the caller only warns on failure.
    pub fn store(&self, key: &str, component: &Component) -> Result<PathBuf, CacheWriteError> {
        let bytes = component
            .serialize()
            .map_err(|e| CacheWriteError::Serialize(e.to_string()))?;
        std::fs::create_dir_all(&self.dir).map_err(|source| CacheWriteError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.entry(key);
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let io = |source| CacheWriteError::Io {
            path: tmp.clone(),
            source,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            CacheWriteError::Io {
                path: path.clone(),
                source,
            }
        })?;
        Ok(path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheWriteError {
    #[error("cannot serialize the compiled policy: {0}")]
    Serialize(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Lower-case hex SHA-256 of the wasm bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
