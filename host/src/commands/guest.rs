//! The policy a command runs, from wherever `--guest` says: the built-in
//! policy, a file, or a registry. A registry policy is pulled (through the
//! cache, checked by digest) and, when `--verify` is given, its cosign
//! signatures are checked before anything else happens: a run or plan
//! refused here has not read the cluster.

use std::path::Path;

use crate::oci::{self, PolicyRef, RegistryOptions, VerifyConfig, VerifyError};
use crate::runtime::DEFAULT_POLICY;

use super::CommandError;
use super::args::{GuestSource, PolicyArgs};

/// A policy's bytes and the label messages and reports name it by.
#[derive(Debug, Clone)]
pub struct Guest {
    pub label: String,
    pub wasm: Vec<u8>,
}

impl Guest {
    /// The Linkerd rotation policy built into rotor.
    pub fn builtin() -> Self {
        Self {
            label: "built-in linkerd-rotation policy".to_string(),
            wasm: DEFAULT_POLICY.to_vec(),
        }
    }
}

/// Whether a command takes a registry policy by tag (`simulate`, `test`) or
/// only pinned by digest unless allowed (`run`, and `plan`, which predicts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    TagsAllowed,
    DigestRequired,
}

/// The policy `args` name, verified as they ask.
pub async fn load_guest(
    args: &PolicyArgs,
    cache_dir: Option<&Path>,
    pinning: Pinning,
) -> Result<Guest, CommandError> {
    let verify = args.verify.as_deref().map(VerifyConfig::load).transpose()?;
    if let Some(GuestSource::Oci(reference)) = &args.guest
        && reference.digest().is_none()
        && pinning == Pinning::DigestRequired
        && !args.allow_unpinned_guest
    {
        return Err(CommandError::Guest(format!(
            "{reference} names no digest: pin it (@sha256:...) or pass --allow-unpinned-guest"
        )));
    }
    match (&args.guest, verify) {
        (Some(GuestSource::Oci(reference)), verify) => {
            fetch_oci(reference, &args.registry, cache_dir, verify.as_ref()).await
        }
        (_, Some(_)) => Err(CommandError::Guest(
            "--verify checks the signatures of an oci:// policy; --guest names none".into(),
        )),
        (source, None) => read_guest(source.as_ref(), &args.registry, cache_dir).await,
    }
}

/// The policy at `source` without a signature check (`None`: built in).
pub async fn read_guest(
    source: Option<&GuestSource>,
    registry: &RegistryOptions,
    cache_dir: Option<&Path>,
) -> Result<Guest, CommandError> {
    match source {
        None => Ok(Guest::builtin()),
        Some(GuestSource::File(path)) => {
            let wasm = std::fs::read(path).map_err(|source| CommandError::ReadPolicy {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(Guest {
                label: path.display().to_string(),
                wasm,
            })
        }
        Some(GuestSource::Oci(reference)) => fetch_oci(reference, registry, cache_dir, None).await,
    }
}

async fn fetch_oci(
    reference: &PolicyRef,
    registry: &RegistryOptions,
    cache_dir: Option<&Path>,
    verify: Option<&VerifyConfig>,
) -> Result<Guest, CommandError> {
    let cache = registry.cache(cache_dir);
    let pulled = oci::pull(reference, registry, cache.as_ref()).await?;
    tracing::info!(
        policy = %pulled.reference,
        from_cache = pulled.from_cache,
        bytes = pulled.wasm.len(),
        "policy pulled"
    );
    if let Some(config) = verify {
        let verdict = oci::verify::verify(&pulled.reference, config, registry).await?;
        if !verdict.trusted() {
            return Err(VerifyError(verdict).into());
        }
        tracing::info!(verdict = %verdict.summary(), "policy signature verified");
    }
    Ok(Guest {
        label: pulled.reference.to_string(),
        wasm: pulled.wasm,
    })
}
