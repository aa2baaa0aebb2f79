//! The control plane's Linkerd version at preflight: logged, and a version
//! rotor's trust model cannot rotate is refused before the first change.
//! Read from `linkerd-config` as Linkerd's chart writes it; a version that
//! is missing, unreadable or not a known release is logged as such and
//! decides nothing (the other preflight checks still hold).

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

/// Log the control plane's version; refuse one rotor cannot rotate.
/// Returns the version for the preflight's detail, when known.
pub(super) fn check(control_plane_namespace: &str) -> Result<Option<String>, RotorError> {
    let at = format!("{control_plane_namespace}/{LINKERD_CONFIG}");
    let raw = match config_maps::read_config_map(control_plane_namespace, LINKERD_CONFIG) {
        Ok(cm) => named(&cm),
        Err(Error::NotFound(_)) => {
            crate::warn(&format!("Linkerd version unknown: {at} not found"), &[]);
            return Ok(None);
        }
        Err(e) => {
            crate::warn(
                &format!("Linkerd version unknown: cannot read {at}"),
                &[("error", &format!("{e:?}"))],
            );
            return Ok(None);
        }
    };
    let Some(raw) = raw else {
        crate::warn(&format!("Linkerd version unknown: {at} names none"), &[]);
        return Ok(None);
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
    Ok(Some(raw))
}

/// The longest a leaf identity issues lives: its chart's
/// `identity.issuer.issuanceLifetime` from `linkerd-config`, Linkerd's
/// default where the values do not say. A value that is not a duration is
/// refused: the leaf-refresh wait would rest on a guess.
pub(super) fn leaf_lifetime(control_plane_namespace: &str) -> Result<i64, RotorError> {
    let at = format!("{control_plane_namespace}/{LINKERD_CONFIG}");
    let values = match config_maps::read_config_map(control_plane_namespace, LINKERD_CONFIG) {
        Ok(cm) => cm
            .data
            .into_iter()
            .find(|kv| kv.key == VALUES_KEY)
            .map(|kv| kv.value),
        Err(Error::NotFound(_)) => None,
        Err(e) => {
            return Err(RotorError::Call {
                call: format!("read configmap {at}"),
                error: e,
            });
        }
    };
    match values.as_deref().and_then(version::issuance_lifetime) {
        Some(Ok(seconds)) => Ok(seconds),
        Some(Err(why)) => Err(RotorError::State(format!("{at}: {why}"))),
        None => Ok(DEFAULT_ISSUANCE_LIFETIME_SECONDS),
    }
}
