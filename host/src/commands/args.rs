//! Flags several commands take alike: the policy, its SHA-256 pin and the
//! run configuration, and the report's format on stdout. Each command's own
//! argument struct flattens or names them, so they parse and read the same
//! everywhere, and `plan` runs exactly what `run` would.

use std::path::PathBuf;

use clap::ValueEnum;

/// Which policy runs, pinned or not, and with which configuration.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Policy component (.wasm) [default: the built-in Linkerd rotation policy].
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,

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
