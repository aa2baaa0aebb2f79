//! Keeps Secret material out of logs and the report: every Secret value the
//! guard hands to or takes from a policy is remembered and masked wherever a
//! policy-supplied string leaves the sandbox; PEM private keys are masked
//! whether or not they came from a Secret.

use std::borrow::Cow;

use zeroize::Zeroizing;

pub const MASK: &str = "[redacted]";

/// Shorter values would mask ordinary words ("true", "ca.crt").
const MIN_SECRET_LEN: usize = 8;

/// The values are key material among others: wiped when the run's guard is
/// dropped, not left in freed memory.
#[derive(Default, Clone)]
pub struct Redactor {
    /// Longest first, so a value containing another is masked whole.
    secrets: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.secrets.len())
    }
}

impl Redactor {
    /// Remember a Secret value (non-UTF-8 values cannot appear in a string).
    pub fn learn(&mut self, value: &[u8]) {
        if let Ok(text) = std::str::from_utf8(value) {
            let text = text.trim();
            if text.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s.as_str() == text) {
                self.secrets.push(Zeroizing::new(text.to_string()));
                self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    /// Learn every value `other` has learned: a run over several clusters
    /// masks what any of them revealed.
    pub fn absorb(&mut self, other: &Redactor) {
        for secret in &other.secrets {
            self.learn(secret.as_bytes());
        }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        match mask_private_keys(&out) {
            Some(masked) => Cow::Owned(masked),
            None => out,
        }
    }
}

/// Replace every `-----BEGIN ... PRIVATE KEY-----` block (to its END line, or
/// to the end of the text when truncated). `None` when there is none.
fn mask_private_keys(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN ";
    if !text.contains("PRIVATE KEY-----") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(start) = rest.find(BEGIN) {
        let header_end = rest[start + BEGIN.len()..]
            .find("-----")
            .map(|i| start + BEGIN.len() + i + 5);
        let Some(header_end) = header_end else { break };
        let label = &rest[start + BEGIN.len()..header_end - 5];
        if !label.ends_with("PRIVATE KEY") {
            out.push_str(&rest[..header_end]);
            rest = &rest[header_end..];
            continue;
        }
        let end_marker = format!("-----END {label}-----");
        let block_end = rest[header_end..]
            .find(&end_marker)
            .map(|i| header_end + i + end_marker.len())
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        out.push_str(MASK);
        rest = &rest[block_end..];
        changed = true;
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_values_are_masked() {
        let mut r = Redactor::default();
        r.learn(b"s3cr3t-token-value");
        r.learn(b"short");
        assert_eq!(r.redact("token=s3cr3t-token-value!"), "token=[redacted]!");
        assert_eq!(r.redact("short stays"), "short stays");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn private_key_blocks_are_masked_even_unlearned() {
        let r = Redactor::default();
        let text =
            "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\ndone";
        assert_eq!(r.redact(text), "key:\n[redacted]\ndone");
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(r.redact(cert), cert);
        let truncated = "oops -----BEGIN PRIVATE KEY-----\nMIIEv";
        assert_eq!(r.redact(truncated), "oops [redacted]");
    }
}
