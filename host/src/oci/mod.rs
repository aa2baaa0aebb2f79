//! Policies as OCI artifacts: `oci://` references, pulls verified by digest
//! and cached by it, pushes in the CNCF Wasm OCI layout (`application/wasm`
//! layer, `application/vnd.wasm.config.v0+json` config), offline checks of
//! cosign signatures against configured public keys, and one-file archives
//! for air-gapped sites. The registry protocol is `oci-client`'s, the layout
//! `oci-wasm`'s and the signature format `sigstore`'s; rotor adds the rules:
//! digests are checked, verification fails closed, plain HTTP only where
//! allowed.

pub mod archive;
pub mod cache;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod verify;

pub use pull::{Pulled, pull};
pub use reference::PolicyRef;
pub use registry::RegistryOptions;
pub use verify::{Verdict, VerifyConfig, VerifyError};

/// Why a policy could not be fetched from, or sent to, a registry.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{0}")]
    Reference(String),
    #[error("registry options: {0}")]
    Options(String),
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String },
    #[error("{reference}: {what} digest mismatch: expected {expected}, got {actual}")]
    Digest {
        reference: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{reference}: not a Wasm component artifact: {message}")]
    Layout { reference: String, message: String },
    #[error("{what} {path}: {message}")]
    File {
        what: &'static str,
        path: std::path::PathBuf,
        message: String,
    },
}

/// `sha256:<hex>` of `bytes`, as registries name content.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::runtime::cache::sha256_hex(bytes))
}
