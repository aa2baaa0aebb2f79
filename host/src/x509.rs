//! Certificate inspection for policies, as pure host code: parse a PEM
//! bundle into summaries, read each certificate's key, and check whether
//! one certificate signed another. A policy uses these to prove a trust
//! bundle holds the anchor it expects, that an issuer chains to it and that
//! both have keys Linkerd accepts, without bundling a parser of its own.

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

use crate::cluster::ClusterError;
use crate::wit::{CertificateKey, CertificateSummary};

/// Every certificate in a PEM bundle, in order. Other PEM blocks (keys) are
/// skipped; a bundle with no certificate or a malformed block is `invalid`.
pub fn parse_pem(pem: &str) -> Result<Vec<CertificateSummary>, ClusterError> {
    let blocks = certificate_blocks(pem)?;
    blocks
        .iter()
        .enumerate()
        .map(|(index, block)| {
            let cert = parse_block(block, index)?;
            Ok(summarize(&cert, &block.contents))
        })
        .collect()
}

/// The key of every certificate in a PEM bundle, in [`parse_pem`]'s order:
/// its algorithm and size, and whether its key usage allows signing
/// certificates. What Linkerd's `linkerd check` judges anchors and issuers
/// by (see `docs/trust-model.md`).
pub fn parse_pem_keys(pem: &str) -> Result<Vec<CertificateKey>, ClusterError> {
    let blocks = certificate_blocks(pem)?;
    blocks
        .iter()
        .enumerate()
        .map(|(index, block)| {
            let cert = parse_block(block, index)?;
            let key_cert_sign = match cert.key_usage() {
                Ok(usage) => usage.map(|u| u.value.key_cert_sign()),
                Err(e) => {
                    return Err(ClusterError::Invalid(format!(
                        "certificate {}: key usage: {e}",
                        index + 1
                    )));
                }
            };
            let (algorithm, bits) = key_algorithm(&cert);
            Ok(CertificateKey {
                algorithm,
                bits,
                key_cert_sign,
            })
        })
        .collect()
}

/// The public key's algorithm as `parse-pem-keys` names it, and its size:
/// the named curve for ECDSA (not the point's length, which is 528 bits
/// for P-521), the modulus without leading zeros for RSA.
fn key_algorithm(cert: &X509Certificate<'_>) -> (String, u32) {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                _ => 0,
            };
            ("ecdsa".into(), bits)
        }
        "1.2.840.113549.1.1.1" => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => significant_bits(rsa.modulus),
                _ => 0,
            };
            ("rsa".into(), bits)
        }
        "1.3.101.112" => ("ed25519".into(), 256),
        _ => (oid, 0),
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> u32 {
    let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(at) => &bytes[at..],
        None => return 0,
    };
    let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
    len * 8 - trimmed[0].leading_zeros()
}

/// Every certificate of a PEM bundle as a PEM of its own, in
/// [`parse_pem`]'s order: what [`verify_signed_by`] takes as the issuer.
pub fn certificate_pems(pem: &str) -> Result<Vec<String>, ClusterError> {
    Ok(certificate_blocks(pem)?
        .iter()
        .map(|block| der_to_pem(&block.contents))
        .collect())
}

/// One DER certificate as a PEM block.
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + 70);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether the first certificate of `cert_pem` names the first certificate of
/// `issuer_pem` as its issuer and carries a valid signature by its key.
pub fn verify_signed_by(cert_pem: &str, issuer_pem: &str) -> Result<bool, ClusterError> {
    let cert_blocks = certificate_blocks(cert_pem)?;
    let issuer_blocks = certificate_blocks(issuer_pem)?;
    let cert = parse_block(&cert_blocks[0], 0)?;
    let issuer = parse_block(&issuer_blocks[0], 0)?;
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return Ok(false);
    }
    match cert.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Ok(true),
        Err(X509Error::SignatureUnsupportedAlgorithm) => Err(ClusterError::Invalid(
            "the certificate's signature algorithm is not supported".into(),
        )),
        Err(_) => Ok(false),
    }
}

/// Whether `data` holds a PEM private-key block (`PRIVATE KEY`, `EC PRIVATE
/// KEY`, `RSA PRIVATE KEY`, ...): what must never leave cert-manager's Secrets.
pub fn contains_private_key(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    text.match_indices("-----BEGIN ").any(|(at, _)| {
        text[at..]
            .lines()
            .next()
            .is_some_and(|line| line.trim_end().ends_with("PRIVATE KEY-----"))
    })
}

fn certificate_blocks(pem: &str) -> Result<Vec<Pem>, ClusterError> {
    let mut blocks = Vec::new();
    for (index, block) in Pem::iter_from_buffer(pem.as_bytes()).enumerate() {
        let block =
            block.map_err(|e| ClusterError::Invalid(format!("PEM block {}: {e}", index + 1)))?;
        if block.label == "CERTIFICATE" {
            blocks.push(block);
        }
    }
    if blocks.is_empty() {
        return Err(ClusterError::Invalid(
            "no PEM CERTIFICATE block found".into(),
        ));
    }
    Ok(blocks)
}

fn parse_block(block: &Pem, index: usize) -> Result<X509Certificate<'_>, ClusterError> {
    block
        .parse_x509()
        .map_err(|e| ClusterError::Invalid(format!("certificate {}: {e}", index + 1)))
}

fn summarize(cert: &X509Certificate<'_>, der: &[u8]) -> CertificateSummary {
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(hex::encode(id.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|id| hex::encode(id.0))
            }
            _ => {}
        }
    }
    CertificateSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        is_ca: cert.is_ca(),
        fingerprint_sha256: hex::encode(Sha256::digest(der)),
        subject_key_id,
        authority_key_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        CertifiedIssuer::self_signed(params, key).expect("self-signed")
    }

    fn intermediate(cn: &str, by: &CertifiedIssuer<'static, KeyPair>) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let key = KeyPair::generate().expect("key");
        params.signed_by(&key, by).expect("signed").pem()
    }

    #[test]
    fn parses_every_certificate_of_a_bundle() {
        let a = ca("root.linkerd.cluster.local");
        let b = ca("root-b.linkerd.cluster.local");
        let key_pem = KeyPair::generate().expect("key").serialize_pem();
        let bundle = format!("{}{}{}", a.pem(), key_pem, b.pem());
        let certs = parse_pem(&bundle).expect("bundle parses");
        assert_eq!(certs.len(), 2, "the key block is skipped");
        assert_eq!(certs[0].subject, "CN=root.linkerd.cluster.local");
        assert_eq!(certs[1].subject, "CN=root-b.linkerd.cluster.local");
        assert!(certs[0].is_ca);
        assert!(certs[0].not_after > certs[0].not_before);
        assert_eq!(
            certs[0].fingerprint_sha256,
            hex::encode(Sha256::digest(a.der()))
        );
        assert_ne!(certs[0].fingerprint_sha256, certs[1].fingerprint_sha256);
        assert!(!certs[0].serial.is_empty());
    }

    #[test]
    fn verifies_issuer_and_signature() {
        let anchor = ca("root.linkerd.cluster.local");
        let other = ca("root.linkerd.cluster.local");
        let issuer = intermediate("identity.linkerd.cluster.local", &anchor);
        assert!(verify_signed_by(&issuer, &anchor.pem()).expect("verifies"));
        // Same subject name, different key: the signature check catches it.
        assert!(!verify_signed_by(&issuer, &other.pem()).expect("checks"));
        // Issuer name mismatch.
        let stranger = ca("someone-else");
        assert!(!verify_signed_by(&issuer, &stranger.pem()).expect("checks"));
        let summary = &parse_pem(&issuer).expect("parses")[0];
        assert_eq!(summary.issuer, "CN=root.linkerd.cluster.local");
    }

    #[test]
    fn keys_and_their_usage_are_read() {
        let key = KeyPair::generate().expect("key");
        let bare = CertificateParams::new(Vec::<String>::new())
            .expect("params")
            .self_signed(&key)
            .expect("signs")
            .pem();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let signing_only = params.self_signed(&key).expect("signs").pem();
        let anchor = ca("root.linkerd.cluster.local").pem();
        let keys = parse_pem_keys(&format!("{bare}{signing_only}")).expect("parses");
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].algorithm.as_str(), keys[0].bits), ("ecdsa", 256));
        assert_eq!(keys[0].key_cert_sign, None, "no key-usage extension");
        assert_eq!(keys[1].key_cert_sign, Some(false));
        assert!(parse_pem_keys("garbage").is_err());
        // rcgen's CA above lists no usages; Linkerd's documented ones do.
        assert_eq!(
            parse_pem_keys(&anchor).expect("parses")[0].key_cert_sign,
            None
        );
        assert_eq!(significant_bits(&[0, 0x7f, 0]), 15);
        assert_eq!(significant_bits(&[0x80, 0, 0]), 24);
        assert_eq!(significant_bits(&[0, 0]), 0);
    }

    #[test]
    fn bad_pem_is_invalid() {
        for input in [
            "",
            "not pem at all",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let err = parse_pem(input).expect_err("must fail");
            assert!(
                matches!(err, ClusterError::Invalid(_)),
                "{input:?}: {err:?}"
            );
        }
        let anchor = ca("root");
        assert!(matches!(
            verify_signed_by("garbage", &anchor.pem()),
            Err(ClusterError::Invalid(_))
        ));
    }

    #[test]
    fn private_keys_are_found_in_any_pem_form() {
        let key = KeyPair::generate().expect("key").serialize_pem();
        let cert = ca("root").pem();
        assert!(contains_private_key(format!("{cert}{key}").as_bytes()));
        assert!(contains_private_key(
            b"x\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"
        ));
        assert!(contains_private_key(b"-----BEGIN RSA PRIVATE KEY-----\r\n"));
        assert!(!contains_private_key(cert.as_bytes()));
        assert!(!contains_private_key(b"a private key is not here"));
    }
}
