//! The key and constraints a cert-manager Certificate asks for
//! (`spec.privateKey.algorithm` and `size`, `spec.isCA`), with
//! cert-manager's defaults and limits, so a scenario can hold an anchor or
//! an issuer Linkerd refuses: an RSA-3072 anchor, a P-384 issuer, an issuer
//! that is not a CA.

use rcgen::{KeyPair, RsaKeySize};

use super::manifest::CertificateSpec;

/// A private key as cert-manager generates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// The curve's size: 256, 384 or 521.
    Ecdsa(u32),
    /// The modulus' size in bits.
    Rsa(u32),
    Ed25519,
}

impl KeySpec {
    /// cert-manager's reading of `spec.privateKey`: RSA when no algorithm is
    /// given, 2048 bits by default and at least 2048, at most 8192; ECDSA
    /// 256 by default, or 384 or 521; Ed25519 takes no size
    /// (`GeneratePrivateKeyForCertificate`, cert-manager's
    /// `pkg/util/pki/generate.go`). The simulator generates RSA keys of
    /// 2048, 3072 or 4096 bits only, and says so for other sizes.
    pub fn from_spec(algorithm: Option<&str>, size: Option<u32>) -> Result<Self, String> {
        match algorithm.unwrap_or("RSA") {
            "RSA" => match size.unwrap_or(2048) {
                bits @ (2048 | 3072 | 4096) => Ok(KeySpec::Rsa(bits)),
                bits @ 2049..=8192 => Err(format!(
                    "privateKey.size {bits}: the simulator generates RSA keys of 2048, 3072 or \
                     4096 bits"
                )),
                bits => Err(format!(
                    "privateKey.size {bits}: cert-manager takes RSA keys of 2048 to 8192 bits"
                )),
            },
            "ECDSA" => match size.unwrap_or(256) {
                bits @ (256 | 384 | 521) => Ok(KeySpec::Ecdsa(bits)),
                bits => Err(format!(
                    "privateKey.size {bits}: cert-manager takes ECDSA keys of 256, 384 or 521 bits"
                )),
            },
            "Ed25519" => Ok(KeySpec::Ed25519),
            other => Err(format!(
                "privateKey.algorithm {other:?}: cert-manager takes RSA, ECDSA or Ed25519"
            )),
        }
    }

    /// A fresh key of this kind.
    pub fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeySpec::Ecdsa(256) => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeySpec::Ecdsa(384) => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeySpec::Ecdsa(_) => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512),
            KeySpec::Rsa(bits) => {
                let size = match bits {
                    3072 => RsaKeySize::_3072,
                    4096 => RsaKeySize::_4096,
                    _ => RsaKeySize::_2048,
                };
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
            }
            KeySpec::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        }
    }
}

/// What a certificate the simulated cert-manager issues looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub key: KeySpec,
    /// `spec.isCA`: basic constraints CA:TRUE and certificate signing in
    /// the key usage; otherwise an end-entity certificate.
    pub is_ca: bool,
}

impl Profile {
    /// Linkerd's documented anchor and issuer: an ECDSA P-256 CA.
    pub const LINKERD_CA: Profile = Profile {
        key: KeySpec::Ecdsa(256),
        is_ca: true,
    };

    /// What a Certificate's spec asks for.
    pub fn of(spec: &CertificateSpec) -> Result<Self, String> {
        let key = spec.private_key.as_ref();
        Ok(Profile {
            key: KeySpec::from_spec(
                key.and_then(|k| k.algorithm.as_deref()),
                key.and_then(|k| k.size),
            )?,
            is_ca: spec.is_ca,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_manager_defaults_and_limits() {
        assert_eq!(KeySpec::from_spec(None, None), Ok(KeySpec::Rsa(2048)));
        assert_eq!(
            KeySpec::from_spec(Some("ECDSA"), None),
            Ok(KeySpec::Ecdsa(256))
        );
        assert_eq!(
            KeySpec::from_spec(Some("ECDSA"), Some(384)),
            Ok(KeySpec::Ecdsa(384))
        );
        assert_eq!(
            KeySpec::from_spec(Some("RSA"), Some(3072)),
            Ok(KeySpec::Rsa(3072))
        );
        assert_eq!(
            KeySpec::from_spec(Some("Ed25519"), None),
            Ok(KeySpec::Ed25519)
        );
        let small = KeySpec::from_spec(Some("RSA"), Some(1024)).unwrap_err();
        assert!(small.contains("2048 to 8192"), "{small}");
        let odd = KeySpec::from_spec(Some("RSA"), Some(8192)).unwrap_err();
        assert!(odd.contains("simulator generates"), "{odd}");
        assert!(KeySpec::from_spec(Some("ECDSA"), Some(255)).is_err());
        assert!(KeySpec::from_spec(Some("DSA"), None).is_err());
    }

    #[test]
    fn is_ca_sets_basic_constraints_and_certificate_signing() {
        for (is_ca, signs) in [(true, Some(true)), (false, Some(false))] {
            let profile = Profile {
                key: KeySpec::Ecdsa(384),
                is_ca,
            };
            let issued =
                super::super::pki::generate("x", (0, 10_000), 1, None, profile).expect("generates");
            let summary = &crate::x509::parse_pem(&issued.cert_pem).expect("parses")[0];
            assert_eq!(summary.is_ca, is_ca);
            let key = &crate::x509::parse_pem_keys(&issued.cert_pem).expect("parses")[0];
            assert_eq!((key.bits, key.key_cert_sign), (384, signs));
        }
    }

    #[test]
    fn keys_of_each_kind_are_generated() {
        for (spec, alg, bits) in [
            (KeySpec::Ecdsa(256), "ecdsa", 256),
            (KeySpec::Ecdsa(384), "ecdsa", 384),
            (KeySpec::Rsa(3072), "rsa", 3072),
            (KeySpec::Ed25519, "ed25519", 256),
        ] {
            let key = spec.generate().expect("generates");
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let pem = params.self_signed(&key).expect("signs").pem();
            let read = &crate::x509::parse_pem_keys(&pem).expect("parses")[0];
            assert_eq!(
                (read.algorithm.as_str(), read.bits),
                (alg, bits),
                "{spec:?}"
            );
        }
    }
}
