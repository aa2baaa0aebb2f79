//! Turning bytes into a policy ready to instantiate: recognise what the file
//! is, compile it (or take it from the cache), and type-check its imports
//! against what this host provides, so a policy built for a newer WIT is
//! refused before it runs, in words that say what to do.

use std::time::Instant;

use serde::Serialize;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::text::one_line;
use crate::wit::{PolicyPre, WIT_PACKAGE};

use super::Runtime;
use super::cache::{cache_key, sha256_hex};
use super::state::HostState;

/// The interface a policy imports to run over several clusters.
pub const CLUSTERS_INTERFACE: &str = "rotor:policy/clusters@";

/// What a file holds, judged from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WasmKind {
    Component,
    CoreModule,
    NotWasm,
}

pub fn wasm_kind(bytes: &[u8]) -> WasmKind {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return WasmKind::NotWasm;
    }
    // Bytes 6..8 are the layer: 0 for core modules, 1 for components.
    match [bytes[6], bytes[7]] {
        [1, 0] => WasmKind::Component,
        [0, 0] => WasmKind::CoreModule,
        _ => WasmKind::NotWasm,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{label}: not a WebAssembly component (the file does not start with the wasm header)")]
    NotWasm { label: String },
    #[error(
        "{label}: is a core WebAssembly module, not a component; build the policy with `cargo build --target wasm32-wasip2` (which emits a component)"
    )]
    CoreModule { label: String },
    #[error("{label}: cannot compile the component: {message}")]
    Compile { label: String, message: String },
    #[error("policy needs a newer rotor: it imports {import}, this rotor provides {WIT_PACKAGE}")]
    NewerWit { import: String },
    #[error(
        "{label}: imports {import}, which this rotor does not provide (it provides {WIT_PACKAGE} and WASI 0.2)"
    )]
    UnknownImport { label: String, import: String },
    #[error("{label}: does not export `run` as the {WIT_PACKAGE} world requires: {message}")]
    MissingExport { label: String, message: String },
    #[error("{label}: cannot be linked: {message}")]
    Link { label: String, message: String },
    #[error(
        "{label}: SHA-256 is {actual}, but {expected} was required (--guest-sha256); refusing to run a policy other than the pinned one"
    )]
    DigestMismatch {
        label: String,
        expected: String,
        actual: String,
    },
}

/// How the compiled code was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheUse {
    Hit,
    /// Compiled, and saved for next time (or a warning said why not).
    Miss,
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadTimings {
    pub cache: CacheUse,
    /// Compiling or deserializing, plus the import type-check.
    pub load_ms: f64,
}

/// A policy whose imports are known to be satisfiable: instantiate it per run.
pub struct LoadedPolicy {
    pub(super) pre: PolicyPre<HostState>,
    pub label: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub timings: LoadTimings,
    /// Whether it imports `rotor:policy/clusters`: only such a policy can
    /// tell the clusters of a multicluster run apart.
    pub selects_clusters: bool,
}

impl Runtime {
    /// [`Runtime::load`], refusing bytes whose SHA-256 is not `pinned`
    /// (lowercase hex) before anything is compiled.
    pub fn load_pinned(
        &self,
        label: &str,
        wasm: &[u8],
        pinned: Option<&str>,
    ) -> Result<LoadedPolicy, LoadError> {
        if let Some(expected) = pinned {
            let actual = sha256_hex(wasm);
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(LoadError::DigestMismatch {
                    label: label.to_string(),
                    expected: expected.to_ascii_lowercase(),
                    actual,
                });
            }
        }
        self.load(label, wasm)
    }

    /// Compile (or load from cache) and type-check a policy component.
    pub fn load(&self, label: &str, wasm: &[u8]) -> Result<LoadedPolicy, LoadError> {
        let started = Instant::now();
        let (component, cache, sha256) = self.compile(label, wasm)?;
        let pre = self.link(label, &component)?;
        let selects_clusters = import_names(self, &component)
            .iter()
            .any(|name| name.starts_with(CLUSTERS_INTERFACE));
        Ok(LoadedPolicy {
            pre,
            selects_clusters,
            label: label.to_string(),
            sha256,
            size_bytes: wasm.len() as u64,
            timings: LoadTimings {
                cache,
                load_ms: started.elapsed().as_secs_f64() * 1000.0,
            },
        })
    }

    pub(super) fn compile(
        &self,
        label: &str,
        wasm: &[u8],
    ) -> Result<(Component, CacheUse, String), LoadError> {
        match wasm_kind(wasm) {
            WasmKind::Component => {}
            WasmKind::CoreModule => {
                return Err(LoadError::CoreModule {
                    label: label.into(),
                });
            }
            WasmKind::NotWasm => {
                return Err(LoadError::NotWasm {
                    label: label.into(),
                });
            }
        }
        let sha256 = sha256_hex(wasm);
        let Some(cache) = &self.cache else {
            let component = self.compile_fresh(label, wasm)?;
            return Ok((component, CacheUse::Disabled, sha256));
        };
        let key = cache_key(&self.engine, &sha256);
        if let Some(component) = cache.load(&self.engine, &key) {
            tracing::debug!(key, "compiled policy loaded from cache");
            return Ok((component, CacheUse::Hit, sha256));
        }
        let component = self.compile_fresh(label, wasm)?;
        match cache.store(&key, &component) {
            Ok(path) => tracing::debug!(path = %path.display(), "compiled policy cached"),
            Err(e) => {
                tracing::warn!(error = %e, "compiled policy not cached; the next run compiles again")
            }
        }
        Ok((component, CacheUse::Miss, sha256))
    }

    fn compile_fresh(&self, label: &str, wasm: &[u8]) -> Result<Component, LoadError> {
        Component::new(&self.engine, wasm).map_err(|e| LoadError::Compile {
            label: label.into(),
            message: one_line(&format!("{e:#}")),
        })
    }

    fn link(&self, label: &str, component: &Component) -> Result<PolicyPre<HostState>, LoadError> {
        let instance_pre = match self.linker.instantiate_pre(component) {
            Ok(pre) => pre,
            Err(e) => return Err(self.explain_link_failure(label, component, &e)),
        };
        PolicyPre::new(instance_pre).map_err(|e| LoadError::MissingExport {
            label: label.into(),
            message: one_line(&format!("{e:#}")),
        })
    }

    /// Name the import that cannot be satisfied, and whether a newer rotor would.
    fn explain_link_failure(
        &self,
        label: &str,
        component: &Component,
        error: &wasmtime::Error,
    ) -> LoadError {
        let imports = import_names(self, component);
        if let Some(import) = imports.iter().find(|name| is_newer_policy_import(name)) {
            return LoadError::NewerWit {
                import: import.clone(),
            };
        }
        if let Some(import) = imports.iter().find(|name| !is_provided_package(name)) {
            return LoadError::UnknownImport {
                label: label.into(),
                import: import.clone(),
            };
        }
        LoadError::Link {
            label: label.into(),
            message: one_line(&format!("{error:#}")),
        }
    }
}

pub(super) fn import_names(runtime: &Runtime, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(&runtime.engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The functions an imported or exported instance carries.
pub(super) fn instance_functions(runtime: &Runtime, item: &ComponentItem) -> Vec<String> {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(&runtime.engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
            .map(|(name, _)| name.to_string())
            .collect(),
        _ => vec![],
    }
}

/// `(major, minor, patch)` of `pkg/iface@x.y.z`.
pub fn import_version(name: &str) -> Option<(u64, u64, u64)> {
    let version = name.rsplit_once('@')?.1;
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn provided_version() -> (u64, u64, u64) {
    import_version(WIT_PACKAGE).unwrap_or((0, 0, 0))
}

/// An import of our package at a version this host does not reach: another
/// minor before 1.0 (or major after), or a later patch that may add functions.
pub fn is_newer_policy_import(name: &str) -> bool {
    if !name.starts_with("rotor:policy/") {
        return false;
    }
    match import_version(name) {
        Some(version) => version > provided_version(),
        None => false,
    }
}

/// Whether this host links the package the import belongs to.
pub fn is_provided_package(name: &str) -> bool {
    let package = name.split('/').next().unwrap_or(name);
    if package == "rotor:policy" {
        return import_version(name).is_some_and(|v| {
            let p = provided_version();
            v.0 == p.0 && v.1 == p.1 && v <= p
        });
    }
    matches!(
        package,
        "wasi:io" | "wasi:cli" | "wasi:clocks" | "wasi:random" | "wasi:filesystem" | "wasi:sockets"
    ) && import_version(name).is_some_and(|v| v.0 == 0 && v.1 == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_file_kinds() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0rest"), WasmKind::CoreModule);
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0rest"), WasmKind::Component);
        assert_eq!(wasm_kind(b"#!/bin/sh\necho"), WasmKind::NotWasm);
        assert_eq!(wasm_kind(b""), WasmKind::NotWasm);
    }

    #[test]
    fn versions_of_imports() {
        assert_eq!(import_version("rotor:policy/clock@0.2.0"), Some((0, 2, 0)));
        assert_eq!(import_version("wasi:io/streams@0.2.6"), Some((0, 2, 6)));
        assert_eq!(import_version("no-version"), None);
        assert!(is_newer_policy_import("rotor:policy/clock@0.2.0"));
        assert!(is_newer_policy_import("rotor:policy/clock@0.1.7"));
        assert!(!is_newer_policy_import("rotor:policy/clock@0.1.6"));
        assert!(!is_newer_policy_import("rotor:policy/clock@0.1.5"));
        assert!(!is_newer_policy_import("rotor:policy/clock@0.1.0"));
        assert!(!is_newer_policy_import("wasi:io/streams@0.9.0"));
        assert!(is_provided_package("rotor:policy/log@0.1.0"));
        assert!(!is_provided_package("rotor:policy/log@0.2.0"));
        assert!(is_provided_package("wasi:cli/stderr@0.2.3"));
        assert!(!is_provided_package("acme:evil/net@1.0.0"));
    }
}
