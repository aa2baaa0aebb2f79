//! Command-line definitions (clap derive). Each command's behaviour lives in
//! `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rotor",
    version,
    about = "Rotates Linkerd's trust anchor and identity issuer without breaking meshed traffic",
    long_about = "Rotates Linkerd's trust anchor and identity issuer without breaking meshed traffic.\n\
                  Rotation policies are sandboxed WebAssembly components; any policy can be run \
                  against a simulated cluster that reports every moment meshed traffic would fail."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// No progress on stderr (the live display, or its log lines); warnings and errors stay.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log lines on stderr as text or as JSON objects, one a line (progress included).
    #[arg(long, value_enum, global = true, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,

    /// Where compiled policies are cached [default: $ROTOR_CACHE_DIR, $XDG_CACHE_HOME/rotor, ~/.cache/rotor].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the policy every time instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a policy against a simulated cluster and report what traffic would see.
    Simulate(SimulateArgs),
    /// Show what a policy component imports and exports, and whether this rotor can run it.
    Inspect(InspectArgs),
    /// Rotate against the cluster under the run lock (the CronJob's command).
    Run(crate::commands::run::RunArgs),
    /// Certificates, trust anchors, stale proxies, identity reloads; exit 1 when something needs attention.
    Status(crate::commands::status::StatusCommand),
    /// Predict a run: read the cluster into the simulator and run the policy there.
    Plan(crate::commands::plan::PlanArgs),
    /// Run scenarios that carry an `Expect` document and check each run against it.
    Test(TestArgs),
    /// Work with scenario files.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Write a generated mesh scenario (multi-document YAML), the same for the same options.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Meshed application namespaces.
    #[arg(long, value_name = "N")]
    pub namespaces: u32,

    /// Workloads in each namespace.
    #[arg(long, value_name = "M")]
    pub workloads_per_namespace: u32,

    /// How many of the workloads are StatefulSets.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub statefulsets: u32,

    /// How many of the workloads are DaemonSets.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub daemonsets: u32,

    /// Seed for the random choices (replicas, injection style, kinds).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Write the scenario here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Policy component (.wasm) [default: the built-in Linkerd rotation policy].
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,

    /// Run configuration (YAML or JSON): policy settings, grants, limits.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Scenario: Kubernetes manifests plus an optional Simulation document [default: the built-in demo cluster].
    #[arg(long, value_name = "FILE.yaml")]
    pub scenario: Option<PathBuf>,

    /// Record mutations instead of applying them.
    #[arg(long)]
    pub dry_run: bool,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Write the cluster state as the run left it (before the watch after
    /// the run) as a scenario that loads again.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,

    /// Stop the run abruptly right after the N-th applied mutation, leaving the
    /// cluster as it is (with --save-state, to test that a policy resumes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub kill_after_mutations: Option<u64>,

    /// Refuse to run unless the policy's SHA-256 is this (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub guest_sha256: Option<String>,
}

/// A SHA-256 digest as 64 hex digits, normalised to lowercase.
pub fn parse_sha256(text: &str) -> Result<String, String> {
    let digest = text.trim().to_ascii_lowercase();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not a SHA-256 digest (64 hex digits, as `sha256sum` prints)"
        ));
    }
    Ok(digest)
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Policy component (.wasm).
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy component for scenarios whose Expect names none [default: the built-in policy].
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,

    /// Run configuration for scenarios whose Expect gives none.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Scenario files, or directories whose `*.yaml` files are run (those without an Expect document are skipped).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn simulate_flags_parse() {
        let cli = Cli::try_parse_from([
            "rotor",
            "simulate",
            "--guest",
            "p.wasm",
            "--dry-run",
            "--output",
            "json",
            "-vv",
        ])
        .expect("parses");
        assert_eq!(cli.verbose, 2);
        let Command::Simulate(args) = cli.command else {
            panic!("simulate expected")
        };
        assert!(args.dry_run);
        assert_eq!(args.output, OutputFormat::Json);
        assert_eq!(args.guest, Some(PathBuf::from("p.wasm")));
    }

    #[test]
    fn kill_and_pin_flags_parse_and_refuse_bad_values() {
        let digest = "AB".repeat(32);
        let cli = Cli::try_parse_from([
            "rotor",
            "simulate",
            "--kill-after-mutations",
            "3",
            "--guest-sha256",
            &digest,
        ])
        .expect("parses");
        let Command::Simulate(args) = cli.command else {
            panic!("simulate expected")
        };
        assert_eq!(args.kill_after_mutations, Some(3));
        assert_eq!(args.guest_sha256, Some("ab".repeat(32)));
        for bad in [
            ["--kill-after-mutations", "0"],
            ["--guest-sha256", "abc"],
            ["--guest-sha256", &"zz".repeat(32)],
        ] {
            let err =
                Cli::try_parse_from(["rotor", "simulate", bad[0], bad[1]]).expect_err("refused");
            assert!(err.to_string().contains(bad[0]), "{err}");
        }
    }

    #[test]
    fn scenario_generate_flags_parse() {
        let cli = Cli::try_parse_from([
            "rotor",
            "scenario",
            "generate",
            "--namespaces",
            "20",
            "--workloads-per-namespace",
            "5",
            "--daemonsets",
            "2",
        ])
        .expect("parses");
        let Command::Scenario(ScenarioCommand::Generate(args)) = cli.command else {
            panic!("scenario generate expected")
        };
        assert_eq!((args.namespaces, args.workloads_per_namespace), (20, 5));
        assert_eq!((args.statefulsets, args.daemonsets, args.seed), (0, 2, 1));
        assert_eq!(args.output, None);
        assert!(
            Cli::try_parse_from(["rotor", "scenario", "generate", "--namespaces", "2"]).is_err()
        );
    }
}
