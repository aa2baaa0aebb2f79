//! Real X.509 for anchors and issuers: generation (via rcgen, with the key
//! and constraints the Certificate asks for, `keys.rs`) and a table of
//! every certificate the simulator has seen, keyed by SHA-256.
//!
//! Policies parse and verify what they read from Secrets, so anchors and
//! issuers must be genuine certificates. Proxy leaves are not X.509: they are
//! records in the trust model (see `linkerd.rs`).
//!
//! A scenario read from a live cluster holds certificates but never their
//! keys. Where the simulated cert-manager must sign with such a CA (an
//! issuer renewed under an anchor the simulation did not issue), it signs
//! with a stand-in key of its own and records the CA as the signer by
//! identity: the trust model, and the `verify-signed-by` answer the
//! simulator gives, treat the result as signed by that CA, as the real
//! cert-manager's would be. Certificates the simulation issues itself carry
//! real signatures.

use std::collections::HashMap;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::keys::Profile;
pub use crate::x509::der_to_pem;

/// Index into [`Pki::certs`].
pub type CertId = usize;

/// What the simulator knows about one certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// SHA-256 of the DER, lower-case hex (what trust-manager dedupes on).
    pub fingerprint: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
    /// The certificate whose key signed this one, when it is known.
    pub signer: Option<CertId>,
    /// `None` for certificates only known by fingerprint (a dumped leaf's anchor).
    pub der: Option<Vec<u8>>,
}

impl CertInfo {
    pub fn valid_at(&self, t: i64) -> bool {
        self.der.is_none() || (self.not_before <= t + 20 && t < self.not_after)
    }

    pub fn pem(&self) -> Option<String> {
        self.der.as_ref().map(|d| der_to_pem(d))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("PEM does not parse: {0}")]
    Pem(String),
    #[error("certificate does not parse: {0}")]
    Der(String),
    #[error("cannot generate certificate: {0}")]
    Generate(String),
    #[error("the CA key does not parse: {0}")]
    Key(String),
}

/// Every certificate seen, interned by fingerprint.
#[derive(Debug, Default)]
pub struct Pki {
    pub certs: Vec<CertInfo>,
    by_fingerprint: HashMap<String, CertId>,
    /// Keys generated for CAs whose own key the scenario does not hold.
    stand_in_keys: HashMap<CertId, zeroize::Zeroizing<String>>,
    /// Certificates signed with a stand-in key, and the CA they stand for.
    vouched: HashMap<CertId, CertId>,
}

/// A freshly issued certificate and its key, PEM encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn get(&self, id: CertId) -> &CertInfo {
        &self.certs[id]
    }

    pub fn by_fingerprint(&self, fp: &str) -> Option<CertId> {
        self.by_fingerprint.get(fp).copied()
    }

    /// A certificate known only by fingerprint (a leaf's anchor in a dump whose
    /// PEM is no longer held anywhere).
    pub fn intern_fingerprint(&mut self, fp: &str) -> CertId {
        if let Some(id) = self.by_fingerprint.get(fp) {
            return *id;
        }
        let id = self.certs.len();
        self.certs.push(CertInfo {
            fingerprint: fp.to_string(),
            subject: String::new(),
            not_before: i64::MIN,
            not_after: i64::MAX,
            self_signed: true,
            signer: None,
            der: None,
        });
        self.by_fingerprint.insert(fp.to_string(), id);
        id
    }

    /// Intern one DER certificate; resolves its signer among known certificates.
    pub fn intern_der(&mut self, der: &[u8]) -> Result<CertId, PkiError> {
        let fp = hex::encode(Sha256::digest(der));
        if let Some(&id) = self.by_fingerprint.get(&fp)
            && self.certs[id].der.is_some()
        {
            return Ok(id);
        }
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Der(e.to_string()))?;
        let subject = cert.subject().to_string();
        let issuer = cert.issuer().to_string();
        let self_signed = subject == issuer && cert.verify_signature(None).is_ok();
        let mut signer = None;
        if !self_signed {
            for (id, known) in self.certs.iter().enumerate() {
                let Some(kder) = &known.der else { continue };
                if known.subject != issuer {
                    continue;
                }
                if let Ok((_, k)) = X509Certificate::from_der(kder)
                    && cert.verify_signature(Some(k.public_key())).is_ok()
                {
                    signer = Some(id);
                    break;
                }
            }
        }
        let info = CertInfo {
            fingerprint: fp.clone(),
            subject,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            self_signed,
            signer,
            der: Some(der.to_vec()),
        };
        let id = match self.by_fingerprint.get(&fp) {
            Some(&id) => {
                self.certs[id] = info;
                id
            }
            None => {
                self.certs.push(info);
                self.by_fingerprint.insert(fp, self.certs.len() - 1);
                self.certs.len() - 1
            }
        };
        // A newly known CA may be the missing signer of certificates seen earlier.
        let new_subject = self.certs[id].subject.clone();
        if let Some(new_der) = self.certs[id].der.clone()
            && let Ok((_, new_cert)) = X509Certificate::from_der(&new_der)
        {
            for other in 0..self.certs.len() {
                if other == id
                    || self.certs[other].signer.is_some()
                    || self.certs[other].self_signed
                {
                    continue;
                }
                let Some(oder) = self.certs[other].der.clone() else {
                    continue;
                };
                if let Ok((_, o)) = X509Certificate::from_der(&oder)
                    && o.issuer().to_string() == new_subject
                    && o.verify_signature(Some(new_cert.public_key())).is_ok()
                {
                    self.certs[other].signer = Some(id);
                }
            }
        }
        Ok(id)
    }

    /// Intern every certificate of a PEM bundle, in order.
    pub fn intern_pem(&mut self, pem: &str) -> Result<Vec<CertId>, PkiError> {
        pem_blocks(pem)?
            .iter()
            .map(|der| self.intern_der(der))
            .collect()
    }

    /// The stand-in signing key for CA `id` (generated on first use).
    pub fn stand_in_key(&mut self, id: CertId) -> Result<String, PkiError> {
        if let Some(key) = self.stand_in_keys.get(&id) {
            return Ok(key.to_string());
        }
        let key = KeyPair::generate()
            .map_err(|e| PkiError::Generate(e.to_string()))?
            .serialize_pem();
        self.stand_in_keys
            .insert(id, zeroize::Zeroizing::new(key.clone()));
        Ok(key)
    }

    /// Record that `id` was signed, with a stand-in key, for `signer`.
    pub fn vouch(&mut self, id: CertId, signer: CertId) {
        self.certs[id].signer = Some(signer);
        self.vouched.insert(id, signer);
    }

    /// Whether `id` was signed with a stand-in key for `signer`.
    pub fn vouched_for(&self, id: CertId, signer: CertId) -> bool {
        self.vouched.get(&id) == Some(&signer)
    }

    /// The anchor at the top of a certificate's chain (itself for an anchor).
    pub fn anchor_of(&self, mut id: CertId) -> CertId {
        for _ in 0..8 {
            match self.certs[id].signer {
                Some(s) if s != id => id = s,
                _ => break,
            }
        }
        id
    }
}

/// The DER of every `CERTIFICATE` block in a PEM text.
pub fn pem_blocks(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    Ok(all_pem_blocks(pem)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der)
        .collect())
}

/// Every PEM block in `pem`, with its label.
pub fn all_pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>, PkiError> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| {
            let block = block.map_err(|e| PkiError::Pem(e.to_string()))?;
            Ok((block.label, block.contents))
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Generate an ECDSA P-256 CA certificate (Linkerd's documented anchor and
/// issuer); self-signed when `signer` is `None`, otherwise signed by the
/// given CA certificate and key (both PEM).
pub fn generate_ca(
    common_name: &str,
    not_before: i64,
    not_after: i64,
    serial: u64,
    signer: Option<(&str, &str)>,
) -> Result<Issued, PkiError> {
    generate(
        common_name,
        (not_before, not_after),
        serial,
        signer,
        Profile::LINKERD_CA,
    )
}

/// Generate a certificate with the key and constraints of `profile`, valid
/// over `validity` (Unix seconds); self-signed when `signer` is `None`.
pub fn generate(
    common_name: &str,
    (not_before, not_after): (i64, i64),
    serial: u64,
    signer: Option<(&str, &str)>,
    profile: Profile,
) -> Result<Issued, PkiError> {
    let gen_err = |e: rcgen::Error| PkiError::Generate(e.to_string());
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    if profile.is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        // cert-manager's default usages for a Certificate that is not a CA.
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
    }
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before)
        .map_err(|e| PkiError::Generate(e.to_string()))?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map_err(|e| PkiError::Generate(e.to_string()))?;
    let mut serial_bytes = vec![0x01];
    serial_bytes.extend_from_slice(&serial.to_be_bytes());
    serial_bytes.extend_from_slice(&rand::random::<[u8; 7]>());
    params.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
    let key = profile.key.generate().map_err(gen_err)?;
    let cert = match signer {
        None => params.self_signed(&key).map_err(gen_err)?,
        Some((ca_pem, ca_key_pem)) => {
            let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| PkiError::Key(e.to_string()))?;
            let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key)
                .map_err(|e| PkiError::Pem(e.to_string()))?;
            params.signed_by(&key, &issuer).map_err(gen_err)?
        }
    };
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_chain_resolves_signer_and_anchor() {
        let mut pki = Pki::default();
        let anchor = generate_ca("root.linkerd.cluster.local", 0, 10_000_000_000, 1, None).unwrap();
        let issuer = generate_ca(
            "identity.linkerd.cluster.local",
            0,
            10_000_000_000,
            2,
            Some((&anchor.cert_pem, &anchor.key_pem)),
        )
        .unwrap();
        // Issuer first: its signer is found once the anchor becomes known.
        let i = pki.intern_pem(&issuer.cert_pem).unwrap()[0];
        assert_eq!(pki.get(i).signer, None);
        let a = pki.intern_pem(&anchor.cert_pem).unwrap()[0];
        assert!(pki.get(a).self_signed);
        assert_eq!(pki.get(i).signer, Some(a));
        assert_eq!(pki.anchor_of(i), a);
        assert_eq!(pki.anchor_of(a), a);
        // Interning again is stable.
        assert_eq!(pki.intern_pem(&anchor.cert_pem).unwrap(), vec![a]);
        // Another anchor with the same subject does not verify the issuer.
        let other = generate_ca("root.linkerd.cluster.local", 0, 10_000_000_000, 3, None).unwrap();
        let o = pki.intern_pem(&other.cert_pem).unwrap()[0];
        assert_ne!(o, a);
        assert_eq!(pki.anchor_of(i), a);
        let pem = pki.get(a).pem().unwrap();
        assert_eq!(pki.intern_pem(&pem).unwrap(), vec![a]);
    }

    #[test]
    fn bad_pem_is_an_error() {
        let mut pki = Pki::default();
        assert!(
            pki.intern_pem("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert_eq!(pki.intern_pem("no pem here").unwrap(), Vec::<CertId>::new());
    }
}
