//! Flags several commands take alike: the policy (a file or a registry
//! reference), its SHA-256 pin, its signature check, the registry flags and
//! the run configuration, and the report's format on stdout. Each command's
//! own argument struct flattens or names them, so they parse and read the
//! same everywhere, and `plan` runs exactly what `run` would.

use std::fmt;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::oci::{PolicyRef, RegistryOptions};

/// Where a policy component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GuestSource {
    File(PathBuf),
    Oci(PolicyRef),
}

impl GuestSource {
    /// `oci://...` is a registry reference; anything else a file.
    pub fn parse(text: &str) -> Result<Self, String> {
        if PolicyRef::is_oci(text) {
            PolicyRef::parse(text)
                .map(Self::Oci)
                .map_err(|e| e.to_string())
        } else {
            Ok(Self::File(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for GuestSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Oci(reference) => write!(f, "{reference}"),
        }
    }
}

/// Which policy runs, pinned or not, and with which configuration.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Policy component: a .wasm file or oci://HOST/REPO[:TAG][@sha256:DIGEST]
    /// [default: the built-in Linkerd rotation policy].
    #[arg(long, value_name = "FILE.wasm|oci://REF", value_parser = GuestSource::parse)]
    pub guest: Option<GuestSource>,

    /// Verification config (YAML): the public keys whose cosign signatures an
    /// oci:// policy must carry, and how many; exit 4 when it is not trusted.
    #[arg(long, value_name = "FILE")]
    pub verify: Option<PathBuf>,

    /// Let `run` and `plan` take an oci:// policy by tag, without @sha256:.
    #[arg(long)]
    pub allow_unpinned_guest: bool,

    #[command(flatten)]
    pub registry: RegistryOptions,

    /// Refuse to run unless the policy's SHA-256 is this (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub guest_sha256: Option<String>,

    /// Run configuration (YAML or JSON): policy settings, grants, limits.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// A SHA-256 digest as 64 hex digits, normalised to lowercase.
pub fn parse_sha256(text: &str) -> Result<String, String> {
    let digest = text.trim().to_ascii_lowercase();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not a SHA-256 digest (64 hex digits, as `sha256sum` prints)"
        ));
    }
    Ok(digest)
}
