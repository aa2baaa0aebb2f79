//! `rotor policy`: what policy authors and platform teams do with policies
//! in registries: push, pull, inspect, verify, and save and load for sites
//! without a route to the registry the policy was published to.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::oci::archive;
use crate::oci::verify::{self, EXIT_UNTRUSTED};
use crate::oci::{self, PolicyRef, RegistryOptions, VerifyConfig};
use crate::runtime::RuntimeOptions;

use super::{CommandError, OutputFormat, new_runtime, read_policy_file, write_file};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Push a policy component; prints the reference pinned by digest.
    Push(PushArgs),
    /// Pull a policy (through the cache) and write the component to a file.
    Pull(PullArgs),
    /// Show a registry policy: digests, size, signatures, imports and exports.
    Inspect(InspectArgs),
    /// Check a policy's cosign signatures; exit 0 when trusted, 4 when not.
    Verify(VerifyArgs),
    /// Write a policy and its signatures to one OCI image-layout tar file.
    Save(SaveArgs),
    /// Push a saved policy and its signatures into a registry.
    Load(LoadArgs),
}

fn parse_reference(text: &str) -> Result<PolicyRef, String> {
    PolicyRef::parse(text).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (.wasm).
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,
    /// Where: oci://HOST/REPO[:TAG] (tag `latest` when none).
    #[arg(value_name = "oci://REF", value_parser = parse_reference)]
    pub reference: PolicyRef,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[arg(value_name = "oci://REF", value_parser = parse_reference)]
    pub reference: PolicyRef,
    /// Write the component here [default: only cache it].
    #[arg(short = 'o', long = "out", value_name = "FILE.wasm")]
    pub out: Option<PathBuf>,
    /// Verification config: refuse (exit 4) unless signed as it requires.
    #[arg(long, value_name = "FILE")]
    pub verify: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(value_name = "oci://REF", value_parser = parse_reference)]
    pub reference: PolicyRef,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(value_name = "oci://REF", value_parser = parse_reference)]
    pub reference: PolicyRef,
    /// Verification config (YAML): trusted public keys and how many must match.
    #[arg(long, value_name = "FILE")]
    pub verify: PathBuf,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The policy, pinned: oci://HOST/REPO@sha256:DIGEST.
    #[arg(value_name = "oci://REF@sha256:DIGEST", value_parser = parse_reference)]
    pub reference: PolicyRef,
    /// The archive to write.
    #[arg(short = 'o', long = "out", value_name = "FILE.tar")]
    pub out: PathBuf,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// An archive `rotor policy save` wrote.
    #[arg(value_name = "FILE.tar")]
    pub file: PathBuf,
    /// The repository to push into: oci://HOST/REPO.
    #[arg(value_name = "oci://REF", value_parser = parse_reference)]
    pub reference: PolicyRef,
    #[command(flatten)]
    pub registry: RegistryOptions,
}

pub async fn run(
    command: PolicyCommand,
    options: RuntimeOptions,
) -> Result<ExitCode, CommandError> {
    let cache_dir = options.cache_dir.clone();
    match command {
        PolicyCommand::Push(args) => {
            let (_, wasm) = read_policy_file(&args.file)?;
            let pinned = oci::push::push(wasm, &args.reference, &args.registry).await?;
            println!("{pinned}");
        }
        PolicyCommand::Pull(args) => {
            let verify = args.verify.as_deref().map(VerifyConfig::load).transpose()?;
            let cache = args.registry.cache(cache_dir.as_deref());
            let pulled = oci::pull(&args.reference, &args.registry, cache.as_ref()).await?;
            if let Some(config) = &verify {
                let verdict = verify::verify(&pulled.reference, config, &args.registry).await?;
                if !verdict.trusted() {
                    return Err(oci::VerifyError(verdict).into());
                }
                eprintln!("verified: {}", verdict.summary());
            }
            if let Some(out) = &args.out {
                write_file("policy", out, &pulled.wasm)?;
            }
            let source = if pulled.from_cache {
                "cache"
            } else {
                "registry"
            };
            println!(
                "{} ({} bytes, from the {source})",
                pulled.reference,
                pulled.wasm.len()
            );
        }
        PolicyCommand::Inspect(args) => return inspect(args, options).await,
        PolicyCommand::Verify(args) => {
            let config = VerifyConfig::load(&args.verify)?;
            let cache = args.registry.cache(cache_dir.as_deref());
            let pulled = oci::pull(&args.reference, &args.registry, cache.as_ref()).await?;
            let verdict = verify::verify(&pulled.reference, &config, &args.registry).await?;
            for name in &verdict.matched {
                println!("matched      {name}");
            }
            for name in &verdict.unmatched {
                println!("not matched  {name}");
            }
            println!("{}", verdict.summary());
            return Ok(if verdict.trusted() {
                println!("trusted");
                ExitCode::SUCCESS
            } else {
                println!("not trusted");
                ExitCode::from(EXIT_UNTRUSTED)
            });
        }
        PolicyCommand::Save(args) => {
            let saved = archive::save(&args.reference, &args.registry, &args.out).await?;
            println!(
                "{} saved to {} ({})",
                saved.reference,
                args.out.display(),
                with_signatures(saved.signatures)
            );
        }
        PolicyCommand::Load(args) => {
            let loaded = archive::load(&args.file, &args.reference, &args.registry).await?;
            eprintln!("loaded ({})", with_signatures(loaded.signatures));
            println!("{}", loaded.reference);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn with_signatures(present: bool) -> &'static str {
    if present {
        "with its signatures"
    } else {
        "no signatures found"
    }
}

/// What `rotor policy inspect` shows.
#[derive(Debug, Serialize)]
struct Inspection {
    reference: String,
    manifest_digest: String,
    layer_digest: String,
    layer_bytes: i64,
    /// cosign signatures stored for this digest (not checked: `verify` does).
    signatures: Option<usize>,
    from_cache: bool,
    component: crate::runtime::PolicyInfo,
}

async fn inspect(args: InspectArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    let cache = args.registry.cache(options.cache_dir.as_deref());
    let pulled = oci::pull(&args.reference, &args.registry, cache.as_ref()).await?;
    let runtime = new_runtime(options)?;
    let info = runtime.inspect(&pulled.reference.to_string(), &pulled.wasm);
    let runnable = info.cannot_run.is_none();
    let inspection = Inspection {
        reference: pulled.reference.to_string(),
        manifest_digest: pulled.manifest_digest.clone(),
        layer_digest: pulled.layer().digest.clone(),
        layer_bytes: pulled.layer().size,
        signatures: verify::signature_count(&pulled.reference, &args.registry).await,
        from_cache: pulled.from_cache,
        component: info,
    };
    match args.output {
        OutputFormat::Text => {
            println!("manifest: {}", inspection.manifest_digest);
            println!(
                "layer:    {} ({} bytes, {})",
                inspection.layer_digest,
                inspection.layer_bytes,
                oci_wasm::WASM_LAYER_MEDIA_TYPE
            );
            match inspection.signatures {
                Some(n) => println!(
                    "signed:   {n} cosign signature(s) under {} (unchecked; see `rotor policy verify`)",
                    archive::signature_tag(&inspection.manifest_digest)
                ),
                None => println!("signed:   no cosign signatures found"),
            }
            print!("{}", inspection.component.render_text());
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&inspection)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
    }
    Ok(if runnable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
