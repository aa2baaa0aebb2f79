//! Flags several commands take alike: the report's format on stdout and the
//! policy's SHA-256 pin. Each command's own argument struct flattens or
//! names them, so they parse and read the same everywhere.

use clap::ValueEnum;

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
