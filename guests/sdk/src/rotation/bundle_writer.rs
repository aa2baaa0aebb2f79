//! Who writes the trust bundle, as the rotation sees it: before the first
//! change, a refusal when the configured writer is not the one the
//! ConfigMap shows (two writers would fight; a writer that is not there
//! would leave the bundle gates waiting out their deadline), and with
//! `bundle.writer: rotor` the bundle written from the anchor and the
//! previous anchor where a Bundle would have rewritten it.

use super::Config;
use super::anchor::anchor_secret;
use super::config::BundleWriter;
use crate::RotorError;
use crate::bundle_writer::{self, Written};
use crate::config_maps::{self, ConfigMapWrite};
use crate::error::{CallContext, is_not_found};

/// Refuse, before anything is written, a writer the ConfigMap contradicts;
/// with `rotor`, also one whose write the run's grants refuse. The grant is
/// probed by writing the ConfigMap back exactly as read, at its
/// resourceVersion: the API server treats an update that changes nothing
/// as no write at all, and a refusal then costs nothing.
pub(super) fn check(cfg: &Config) -> Result<(), RotorError> {
    let named = cfg.trust_roots_config_map.named();
    let cm = match config_maps::read_config_map(&named.namespace, &named.name)
        .call(|| format!("read configmap {named}"))
    {
        Ok(cm) => cm,
        Err(e) if is_not_found(&e) => {
            return Err(RotorError::State(format!(
                "configmap {named} is missing: Linkerd's control plane reads its trust roots there; \
                 install it (Linkerd's chart renders it, or a Bundle or ClusterBundle trust-manager \
                 reconciles) before rotating"
            )));
        }
        Err(e) => return Err(e),
    };
    let mark = bundle_writer::trust_manager_mark(&cm);
    match (cfg.bundle.writer, mark) {
        (BundleWriter::Rotor, Some(mark)) => Err(RotorError::State(format!(
            "bundle.writer is rotor but trust-manager owns configmap {named} ({mark}): \
             trust-manager would overwrite every write; set bundle.writer: trust-manager, \
             or delete the Bundle before letting rotor write the trust roots"
        ))),
        (BundleWriter::TrustManager, None) => Err(RotorError::State(format!(
            "configmap {named} shows no sign of trust-manager (no {} label, no {} annotation): \
             nothing would rewrite it; set bundle.writer: rotor (and grant \
             grants.writeConfigMaps: [{named}]) for an install without trust-manager",
            bundle_writer::BUNDLE_LABEL,
            bundle_writer::BUNDLE_HASH_ANNOTATION
        ))),
        (BundleWriter::Rotor, None) => {
            let same = ConfigMapWrite {
                namespace: cm.namespace,
                name: cm.name,
                data: cm.data,
                labels: cm.labels,
                annotations: cm.annotations,
                expected_resource_version: Some(cm.resource_version),
            };
            config_maps::write_config_map(&same)
                .call(|| format!("probe the grant to write configmap {named}"))
                .map_err(|e| {
                    RotorError::State(format!(
                        "bundle.writer is rotor but configmap {named} may not be written \
                         (grants.writeConfigMaps and the write-config-map verb must allow it): {e}"
                    ))
                })?;
            Ok(())
        }
        (BundleWriter::TrustManager, Some(_)) => Ok(()),
    }
}

/// With `bundle.writer: rotor`, make the bundle hold what a Bundle over the
/// anchor and the previous anchor would (`None`: trust-manager writes it).
pub(super) fn write(cfg: &Config) -> Result<Option<Written>, RotorError> {
    if cfg.bundle.writer != BundleWriter::Rotor {
        return Ok(None);
    }
    let sources = [anchor_secret(cfg)?, cfg.previous_anchor_secret.named()];
    bundle_writer::write_from_sources(&cfg.trust_roots_config_map.named(), &sources).map(Some)
}
