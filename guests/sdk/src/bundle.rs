//! The trust-roots bundle (trust-manager's ConfigMap): which anchors it holds.

use crate::certs::Named;
use crate::config_maps::{self, ConfigMap};
use crate::error::{CallContext, RotorError};
use crate::fingerprint::{sha256_hex, short};
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use crate::x509;

/// The ConfigMap key Linkerd reads the roots from.
pub const BUNDLE_KEY: &str = "ca-bundle.crt";

/// What the bundle holds right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The PEM text as stored.
    pub pem: String,
    /// SHA-256 of the PEM text: what injected pods carry in `linkerd.io/trust-root-sha256`.
    pub hash: String,
    /// SHA-256 fingerprints of the certificates in it, in order.
    pub anchors: Vec<String>,
}

/// What a gate wants the bundle to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// All of these anchors (others may be present).
    Contains(Vec<String>),
    /// Exactly these anchors, nothing else.
    Exactly(Vec<String>),
    /// None of these anchors (the bundle has dropped them).
    Lacks(Vec<String>),
}

fn the_bundle_text(cm: &ConfigMap) -> Result<String, RotorError> {
    cm.data
        .iter()
        .find(|kv| kv.key == BUNDLE_KEY)
        .map(|kv| kv.value.clone())
        .ok_or_else(|| {
            RotorError::State(format!(
                "configmap {}/{} has no key {BUNDLE_KEY}",
                cm.namespace, cm.name
            ))
        })
}

/// Read the bundle and fingerprint its anchors.
pub fn read(config_map: &Named) -> Result<Bundle, RotorError> {
    let cm = config_maps::read_config_map(&config_map.namespace, &config_map.name)
        .call(|| format!("read configmap {config_map}"))?;
    let pem = the_bundle_text(&cm)?;
    let anchors = x509::parse_pem(&pem)
        .call(|| format!("parse {config_map} {BUNDLE_KEY}"))?
        .into_iter()
        .map(|c| c.fingerprint_sha256)
        .collect();
    Ok(Bundle {
        hash: sha256_hex(pem.as_bytes()),
        pem,
        anchors,
    })
}

/// Whether `anchors` satisfies `want`; the pending message says what is off.
pub fn check(config_map: &Named, anchors: &[String], want: &Want) -> Check<()> {
    let held = anchors
        .iter()
        .map(|a| short(a))
        .collect::<Vec<_>>()
        .join(", ");
    let seen = format!("{config_map} holds {} anchor(s) [{held}]", anchors.len());
    let wanted = match want {
        Want::Contains(w) | Want::Exactly(w) => w,
        Want::Lacks(gone) => {
            let left: Vec<&str> = anchors
                .iter()
                .filter(|a| gone.contains(a))
                .map(|a| short(a))
                .collect();
            return if left.is_empty() {
                Check::Pass(())
            } else {
                Check::Pending(format!("{seen}, still holds {}", left.join(", ")))
            };
        }
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| !anchors.contains(w))
        .map(|w| short(w))
        .collect();
    if !missing.is_empty() {
        return Check::Pending(format!("{seen}, missing {}", missing.join(", ")));
    }
    if let Want::Exactly(_) = want {
        let extra: Vec<&str> = anchors
            .iter()
            .filter(|a| !wanted.contains(a))
            .map(|a| short(a))
            .collect();
        if !extra.is_empty() {
            return Check::Pending(format!("{seen}, still holds {}", extra.join(", ")));
        }
    }
    Check::Pass(())
}

/// Gate `gate`: wait until the bundle holds what `want` says. Returns the bundle.
pub fn wait_until(
    config_map: &Named,
    want: &Want,
    gate: &str,
    timeout: u32,
) -> Result<Bundle, RotorError> {
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let bundle = read(config_map)?;
        Ok(match check(config_map, &bundle.anchors, want) {
            Check::Pass(()) => Check::Pass(bundle),
            Check::Pending(s) => Check::Pending(s),
            Check::Fail(s) => Check::Fail(s),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm() -> Named {
        Named::new("linkerd", "linkerd-identity-trust-roots")
    }

    fn fps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn contains_accepts_extra_anchors() {
        let want = Want::Contains(fps(&["new"]));
        assert_eq!(check(&cm(), &fps(&["old", "new"]), &want), Check::Pass(()));
    }

    #[test]
    fn missing_anchor_is_named() {
        let want = Want::Contains(fps(&["3f2a0000000000001111", "old"]));
        match check(&cm(), &fps(&["old"]), &want) {
            Check::Pending(s) => assert_eq!(
                s,
                "linkerd/linkerd-identity-trust-roots holds 1 anchor(s) [old], missing 3f2a00000000"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exactly_rejects_a_leftover_anchor() {
        let want = Want::Exactly(fps(&["new"]));
        match check(&cm(), &fps(&["old", "new"]), &want) {
            Check::Pending(s) => assert!(s.ends_with("still holds old"), "{s}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(check(&cm(), &fps(&["new"]), &want), Check::Pass(()));
    }

    #[test]
    fn lacks_waits_for_the_anchor_to_go() {
        let want = Want::Lacks(fps(&["old"]));
        match check(&cm(), &fps(&["old", "new"]), &want) {
            Check::Pending(s) => assert!(s.ends_with("still holds old"), "{s}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(check(&cm(), &fps(&["new"]), &want), Check::Pass(()));
    }

    #[test]
    fn bundle_text_comes_from_the_right_key() {
        let map = ConfigMap {
            namespace: "linkerd".into(),
            name: "linkerd-identity-trust-roots".into(),
            data: vec![crate::KeyValue {
                key: "other".into(),
                value: "x".into(),
            }],
            labels: vec![],
            annotations: vec![],
            resource_version: "1".into(),
        };
        let err = the_bundle_text(&map).unwrap_err();
        assert!(err.to_string().contains("no key ca-bundle.crt"));
    }
}
