//! The top-level command line (clap derive): the global flags and the
//! subcommands. Each subcommand's arguments and behaviour live in its
//! module under `commands/`; this file only gathers and dispatches them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::inspect::InspectArgs;
use crate::commands::plan::PlanArgs;
use crate::commands::policy::PolicyCommand;
use crate::commands::run::RunArgs;
use crate::commands::scenario::ScenarioCommand;
use crate::commands::simulate::SimulateArgs;
use crate::commands::status::StatusCommand;
use crate::commands::test::TestArgs;
use crate::commands::{self, CommandError};
use crate::runtime::{RuntimeOptions, default_cache_dir};

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
    Run(RunArgs),
    /// Certificates, trust anchors, stale proxies, identity reloads; exit 1 when something needs attention.
    Status(StatusCommand),
    /// Predict a run: read the cluster into the simulator and run the policy there.
    Plan(PlanArgs),
    /// Run scenarios that carry an `Expect` document and check each run against it.
    Test(TestArgs),
    /// Work with scenario files.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Policies in OCI registries: push, pull, inspect, verify, save, load.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

impl Cli {
    /// Where compiled policies are cached, from the global flags.
    pub fn runtime_options(&self) -> RuntimeOptions {
        RuntimeOptions {
            cache_dir: if self.no_cache {
                None
            } else {
                default_cache_dir(self.cache_dir.as_deref())
            },
        }
    }

    /// Run the chosen subcommand; its exit code, or why it could not work.
    pub async fn dispatch(self) -> Result<ExitCode, CommandError> {
        let options = self.runtime_options();
        match self.command {
            Command::Simulate(args) => commands::simulate::run(args, options).await,
            Command::Inspect(args) => commands::inspect::run(args, options),
            Command::Run(args) => commands::run::run(args, options).await,
            Command::Status(args) => commands::status::run(args).await,
            Command::Plan(args) => commands::plan::run(args, options).await,
            Command::Test(args) => commands::test::run(args, options).await,
            Command::Scenario(command) => commands::scenario::run(command, options).await,
            Command::Policy(command) => commands::policy::run(command, options).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::OutputFormat;
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
        assert_eq!(
            args.policy.guest,
            Some(commands::GuestSource::File(PathBuf::from("p.wasm")))
        );
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
        assert_eq!(args.policy.guest_sha256, Some("ab".repeat(32)));
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
