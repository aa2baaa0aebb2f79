//! rotor as the trust bundle's writer, for installs without trust-manager:
//! the trust-roots ConfigMap rendered from the same sources a Bundle would
//! read (the anchor and the previous anchor), in trust-manager's own
//! format, written only when the parsed set of anchors differs; and the
//! marks by which trust-manager shows it owns the ConfigMap.

use crate::bundle::BUNDLE_KEY;
use crate::certs::{self, Named};
use crate::config_maps::{self, ConfigMap, ConfigMapWrite};
use crate::error::{CallContext, RotorError, is_conflict};
use crate::{KeyValue, x509};

/// The label trust-manager puts on every target it owns, naming the Bundle
/// (trust-manager `pkg/bundle/internal/target/target.go`, `prepareTargetPatch`).
pub const BUNDLE_LABEL: &str = "trust.cert-manager.io/bundle";
/// The annotation trust-manager puts on every target it owns: the hash of
/// what it wrote (same file, `TrustBundleHash`).
pub const BUNDLE_HASH_ANNOTATION: &str = "trust.cert-manager.io/hash";

/// The same two marks on a ClusterBundle's target
/// (`pkg/apis/trustmanager/v1alpha2`: `BundleLabelKey`,
/// `BundleHashAnnotationKey`).
pub const CLUSTER_BUNDLE_LABEL: &str = "trust-manager.io/bundle";
pub const CLUSTER_BUNDLE_HASH_ANNOTATION: &str = "trust-manager.io/hash";

/// How many times in all [`write_from_sources`] reads the ConfigMap and
/// writes it, when it keeps changing between the read and the write.
pub const WRITE_ATTEMPTS: usize = 5;

/// Why the ConfigMap looks owned by trust-manager (`None`: it does not).
/// trust-manager sets both marks on every apply, with the Bundle's keys or
/// the ClusterBundle's; any one is enough.
pub fn trust_manager_mark(cm: &ConfigMap) -> Option<String> {
    let find = |kvs: &[KeyValue], key: &str| kvs.iter().find(|kv| kv.key == key).cloned();
    let label = |key| find(&cm.labels, key).map(|kv| format!("label {}={}", kv.key, kv.value));
    let annotation = |key| find(&cm.annotations, key).map(|kv| format!("annotation {}", kv.key));
    label(BUNDLE_LABEL)
        .or_else(|| label(CLUSTER_BUNDLE_LABEL))
        .or_else(|| annotation(BUNDLE_HASH_ANNOTATION))
        .or_else(|| annotation(CLUSTER_BUNDLE_HASH_ANNOTATION))
}

/// The CERTIFICATE blocks of a PEM text, each as its base64 body with the
/// whitespace taken out. Other blocks are refused, as trust-manager does.
pub fn certificate_blocks(pem: &str) -> Result<Vec<String>, String> {
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----").ok_or("unterminated PEM header")?;
        let label = &after[..label_end];
        if label != "CERTIFICATE" {
            return Err(format!(
                "only CERTIFICATE blocks may be in a trust bundle, found {label}"
            ));
        }
        let body = &after[label_end + "-----".len()..];
        let end = format!("-----END {label}-----");
        let stop = body.find(&end).ok_or("PEM block without its END line")?;
        blocks.push(body[..stop].split_whitespace().collect());
        rest = &body[stop + end.len()..];
    }
    Ok(blocks)
}

/// One certificate as trust-manager encodes it: 64-column base64 lines.
fn encode(body: &str) -> String {
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The bundle text for these certificates (`(fingerprint, base64 body)`):
/// de-duplicated and ordered by the SHA-256 of their DER, joined, the final
/// newline trimmed. That is byte for byte what trust-manager writes for the
/// same sources (`pkg/util/cert_pool.go`, `CertPool.PEM`), so the injector
/// stamps the same `linkerd.io/trust-root-sha256` whoever wrote it, and a
/// resumed run renders exactly what the killed one did.
pub fn render(mut certs: Vec<(String, String)>) -> (String, Vec<String>) {
    certs.sort();
    certs.dedup_by(|a, b| a.0 == b.0);
    let text: String = certs.iter().map(|(_, body)| encode(body)).collect();
    let fingerprints = certs.into_iter().map(|(fp, _)| fp).collect();
    (text.trim_end().to_string(), fingerprints)
}

/// The certificates of the sources' `tls.crt`, each with its fingerprint.
fn source_certificates(sources: &[Named]) -> Result<Vec<(String, String)>, RotorError> {
    let mut certs = Vec::new();
    for source in sources {
        let pem = certs::secret_text(&certs::read_secret(source)?, "tls.crt")?;
        let what = format!("secret {source} tls.crt");
        for body in
            certificate_blocks(&pem).map_err(|e| RotorError::State(format!("{what}: {e}")))?
        {
            let one = encode(&body);
            let fp = certs::pem_fingerprint(&one, &what)?;
            certs.push((fp, body));
        }
    }
    Ok(certs)
}

/// The anchors the ConfigMap's bundle holds now, sorted.
fn held(cm: &ConfigMap) -> Result<Vec<String>, RotorError> {
    let Some(kv) = cm.data.iter().find(|kv| kv.key == BUNDLE_KEY) else {
        return Ok(vec![]);
    };
    let mut fps: Vec<String> = x509::parse_pem(&kv.value)
        .call(|| format!("parse {}/{} {BUNDLE_KEY}", cm.namespace, cm.name))?
        .into_iter()
        .map(|c| c.fingerprint_sha256)
        .collect();
    fps.sort();
    fps.dedup();
    Ok(fps)
}

/// What [`write_from_sources`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The anchors the bundle holds now, in its order.
    pub anchors: Vec<String>,
    /// Whether a write was needed (false: it held them already).
    pub changed: bool,
}

/// Make the ConfigMap's bundle hold the certificates of `sources` (their
/// `tls.crt`), and nothing else. Written only when the parsed set differs,
/// at the resourceVersion read, keeping the ConfigMap's other keys, labels
/// and annotations (Helm's ownership marks among them); a conflict is read
/// again and retried, [`WRITE_ATTEMPTS`] times in all.
pub fn write_from_sources(config_map: &Named, sources: &[Named]) -> Result<Written, RotorError> {
    let (text, anchors) = render(source_certificates(sources)?);
    let mut attempt = 1;
    loop {
        let cm = config_maps::read_config_map(&config_map.namespace, &config_map.name)
            .call(|| format!("read configmap {config_map}"))?;
        if held(&cm)? == anchors {
            return Ok(Written {
                anchors,
                changed: false,
            });
        }
        let mut data: Vec<KeyValue> = cm
            .data
            .into_iter()
            .filter(|kv| kv.key != BUNDLE_KEY)
            .collect();
        data.push(KeyValue {
            key: BUNDLE_KEY.into(),
            value: text.clone(),
        });
        let write = ConfigMapWrite {
            namespace: config_map.namespace.clone(),
            name: config_map.name.clone(),
            data,
            labels: cm.labels,
            annotations: cm.annotations,
            expected_resource_version: Some(cm.resource_version),
        };
        match config_maps::write_config_map(&write).call(|| format!("write configmap {config_map}"))
        {
            Err(e) if is_conflict(&e) && attempt < WRITE_ATTEMPTS => attempt += 1,
            Err(e) => return Err(e),
            Ok(_) => {
                return Ok(Written {
                    anchors,
                    changed: true,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB";
    const B: &str = "QkJC";

    fn pem(body: &str, width: usize) -> String {
        let lines: Vec<String> = body
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn blocks_are_read_whatever_the_line_width() {
        let text = format!("{}{}", pem(A, 76), pem(B, 64));
        assert_eq!(
            certificate_blocks(&text).unwrap(),
            vec![A.to_string(), B.to_string()]
        );
        let key = "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n";
        let err = certificate_blocks(key).unwrap_err();
        assert!(err.contains("found EC PRIVATE KEY"), "{err}");
    }

    #[test]
    fn render_orders_by_fingerprint_dedupes_and_trims() {
        let (text, fps) = render(vec![
            ("bb".into(), B.into()),
            ("aa".into(), A.into()),
            ("bb".into(), B.into()),
        ]);
        assert_eq!(fps, vec!["aa", "bb"]);
        assert_eq!(text, format!("{}{}", pem(A, 64), pem(B, 64)).trim_end());
        assert!(text.lines().all(|l| l.len() <= 64));
        // The same certificates in another order render the same bytes.
        let (again, _) = render(vec![("aa".into(), A.into()), ("bb".into(), B.into())]);
        assert_eq!(again, text);
    }

    #[test]
    fn either_trust_manager_mark_is_enough() {
        let cm = |labels: Vec<KeyValue>, annotations: Vec<KeyValue>| ConfigMap {
            namespace: "linkerd".into(),
            name: "linkerd-identity-trust-roots".into(),
            data: vec![],
            labels,
            annotations,
            resource_version: "1".into(),
        };
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(
            trust_manager_mark(&cm(
                vec![kv("app.kubernetes.io/managed-by", "Helm")],
                vec![]
            )),
            None
        );
        assert_eq!(
            trust_manager_mark(&cm(
                vec![kv(BUNDLE_LABEL, "linkerd-identity-trust-roots")],
                vec![]
            ))
            .as_deref(),
            Some("label trust.cert-manager.io/bundle=linkerd-identity-trust-roots")
        );
        assert!(trust_manager_mark(&cm(vec![], vec![kv(BUNDLE_HASH_ANNOTATION, "ab")])).is_some());
        // A ClusterBundle's target carries the trust-manager.io keys.
        assert_eq!(
            trust_manager_mark(&cm(
                vec![kv(CLUSTER_BUNDLE_LABEL, "linkerd-identity-trust-roots")],
                vec![]
            ))
            .as_deref(),
            Some("label trust-manager.io/bundle=linkerd-identity-trust-roots")
        );
        assert!(
            trust_manager_mark(&cm(vec![], vec![kv(CLUSTER_BUNDLE_HASH_ANNOTATION, "ab")]))
                .is_some()
        );
    }
}
