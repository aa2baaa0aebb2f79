//! SHA-256 fingerprints as Linkerd and trust-manager use them.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`: what Linkerd writes into
/// `linkerd.io/trust-root-sha256` for the trust-roots PEM.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    out
}

/// The first 12 hex digits, enough to tell anchors apart in a message.
pub fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn short_cuts_long_and_keeps_short() {
        assert_eq!(short("ba7816bf8f01cfea414140de"), "ba7816bf8f01");
        assert_eq!(short("abc"), "abc");
    }
}
