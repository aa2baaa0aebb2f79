//! `oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`: where a policy lives in a
//! registry. The host must be spelled out: a bare `repo:tag` would silently
//! mean Docker Hub, which no site means for its rotation policy.

use std::fmt;

use oci_client::Reference;

use super::OciError;

/// The scheme that tells a registry reference from a file path in `--guest`.
pub const SCHEME: &str = "oci://";

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    inner: Reference,
}

impl PolicyRef {
    /// Parse `oci://...`; the error names what is wrong with `text`.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let bad = |why: &str| OciError::Reference(format!("policy reference {text:?}: {why}"));
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("must start with oci://"))?;
        let host = rest.split('/').next().unwrap_or_default();
        let names_host = host.contains('.') || host.contains(':') || host == "localhost";
        if !rest.contains('/') || !names_host {
            return Err(bad(
                "name the registry host, as in oci://registry.example/policies/rotation@sha256:...",
            ));
        }
        if let Some((_, digest)) = rest.split_once('@') {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| bad("the digest must be sha256:<64 hex digits>"))?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("the digest must be sha256:<64 hex digits>"));
            }
        }
        let inner = rest.parse::<Reference>().map_err(|e| bad(&e.to_string()))?;
        Ok(Self { inner })
    }

    /// Whether `text` is meant as a registry reference (and not a file).
    pub fn is_oci(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The same repository at `digest` (what a pull resolved a tag to).
    pub fn pinned(&self, digest: &str) -> Self {
        Self {
            inner: Reference::with_digest(
                self.inner.registry().to_string(),
                self.inner.repository().to_string(),
                digest.to_string(),
            ),
        }
    }

    /// The same repository at `tag`.
    pub fn tagged(&self, tag: &str) -> Self {
        Self {
            inner: Reference::with_tag(
                self.inner.registry().to_string(),
                self.inner.repository().to_string(),
                tag.to_string(),
            ),
        }
    }

    /// `sha256:<hex>` when the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// `HOST[:PORT]` as written.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The reference as `oci-client` takes it.
    pub fn as_reference(&self) -> &Reference {
        &self.inner
    }
}

impl std::hash::Hash for PolicyRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().hash(state);
    }
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry(), self.repository())?;
        if let Some(tag) = self.inner.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest() {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tag_digest_and_port() {
        let r = PolicyRef::parse(&format!("oci://127.0.0.1:5000/rotor/policy:1.2@{DIGEST}"))
            .expect("parses");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "rotor/policy");
        assert_eq!(r.digest(), Some(DIGEST));
        assert_eq!(
            r.to_string(),
            format!("oci://127.0.0.1:5000/rotor/policy:1.2@{DIGEST}")
        );
        let tagged = PolicyRef::parse("oci://registry.example/p:v1").expect("parses");
        assert_eq!(tagged.digest(), None);
        assert_eq!(
            tagged.pinned(DIGEST).to_string(),
            format!("oci://registry.example/p@{DIGEST}")
        );
    }

    #[test]
    fn refuses_what_is_not_a_full_reference() {
        for (text, why) in [
            ("registry.example/p:v1", "must start with oci://"),
            ("oci://policy:v1", "name the registry host"),
            ("oci://p", "name the registry host"),
            ("oci://registry.example/p@sha256:abc", "64 hex digits"),
            ("oci://registry.example/p@md5:abc", "sha256:"),
        ] {
            let err = PolicyRef::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains(text), "{err}");
        }
    }
}
