//! The control plane's Linkerd version at preflight: logged, and a version
//! rotor's trust model cannot rotate is refused before the first change.
//! Read from `linkerd-config` as Linkerd's chart writes it; a version that
//! is missing, unreadable or not a known release is logged as such and
//! decides nothing (the other preflight checks still hold). The same read
//! gives identity's leaf lifetime, for `adoptNewIssuer: leaf-refresh`.

use rotor_trust_lint::version::{
    self, CREATED_BY_ANNOTATION, DEFAULT_ISSUANCE_LIFETIME_SECONDS, LINKERD_CONFIG, LinkerdVersion,
    VALUES_KEY,
};

use crate::config_maps::{self, ConfigMap};
use crate::{Error, RotorError};

/// The version `linkerd-config` names: its values' `linkerdVersion`, else
/// its `linkerd.io/created-by` annotation.
fn named(cm: &ConfigMap) -> Option<String> {
    let values = cm.data.iter().find(|kv| kv.key == VALUES_KEY);
    values
        .and_then(|kv| version::from_values(&kv.value))
        .or_else(|| {
            cm.annotations
                .iter()
                .find(|kv| kv.key == CREATED_BY_ANNOTATION)
                .and_then(|kv| version::from_created_by(&kv.value))
        })
}

/// What preflight read from `linkerd-config`, once per run.
pub(super) struct ControlPlaneConfig {
    /// The version, when known.
    pub version: Option<String>,
    /// The longest a leaf identity issues lives: the chart's
    /// `identity.issuer.issuanceLifetime`, Linkerd's default where the values
    /// do not say; `Err` when it cannot be known (the ConfigMap unreadable,
    /// the value not a duration), which only the leaf-refresh wait refuses:
    /// it would rest on a guess.
    pub leaf_lifetime: Result<i64, String>,
}

/// Log the control plane's version; refuse one rotor cannot rotate.
pub(super) fn check(control_plane_namespace: &str) -> Result<ControlPlaneConfig, RotorError> {
    let at = format!("{control_plane_namespace}/{LINKERD_CONFIG}");
    let cm = match config_maps::read_config_map(control_plane_namespace, LINKERD_CONFIG) {
        Ok(cm) => cm,
        Err(Error::NotFound(_)) => {
            crate::warn(&format!("Linkerd version unknown: {at} not found"), &[]);
            return Ok(ControlPlaneConfig {
                version: None,
                leaf_lifetime: Ok(DEFAULT_ISSUANCE_LIFETIME_SECONDS),
            });
        }
        Err(e) => {
            crate::warn(
                &format!("Linkerd version unknown: cannot read {at}"),
                &[("error", &format!("{e:?}"))],
            );
            return Ok(ControlPlaneConfig {
                version: None,
                leaf_lifetime: Err(format!("cannot read configmap {at}: {e:?}")),
            });
        }
    };
    let leaf_lifetime = match cm
        .data
        .iter()
        .find(|kv| kv.key == VALUES_KEY)
        .and_then(|kv| version::issuance_lifetime(&kv.value))
    {
        Some(Ok(seconds)) => Ok(seconds),
        Some(Err(why)) => Err(format!("{at}: {why}")),
        None => Ok(DEFAULT_ISSUANCE_LIFETIME_SECONDS),
    };
    let Some(raw) = named(&cm) else {
        crate::warn(&format!("Linkerd version unknown: {at} names none"), &[]);
        return Ok(ControlPlaneConfig {
            version: None,
            leaf_lifetime,
        });
    };
    let v = LinkerdVersion::parse(&raw);
    if let Some(why) = v.refusal() {
        return Err(RotorError::State(why));
    }
    if v.is_known() {
        crate::info("Linkerd version", &[("version", &raw), ("source", &at)]);
    } else {
        crate::warn(
            &format!("Linkerd version {raw} is not a release rotor knows: nothing inferred"),
            &[("source", &at)],
        );
    }
    Ok(ControlPlaneConfig {
        version: Some(raw),
        leaf_lifetime,
    })
}
