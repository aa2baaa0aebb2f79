//! `rotor test`: run scenario files that carry an `Expect` document and
//! check each run against it. One line per scenario, then `N passed, N failed`.
//! Every file's `Expect` is read before anything runs: a malformed one is an
//! error naming the file and the field, not a failed scenario.
//!
//! The command and its runs live here; `files` finds the scenarios,
//! `expect` reads their `Expect` documents and `verdict` judges each run.
//!
//! The expectation is its own document in the scenario file, so the same
//! file still runs through `rotor simulate` (the loader skips it):
//!
//! ```yaml
//! apiVersion: rotor.dev/v1alpha1
//! kind: Expect
//! metadata: {name: canary goes first}    # shown after the file's path
//! spec:
//!   guest: ../policy.wasm                # relative to this file; default --guest, then the built-in policy
//!   config: {policy: {site: {canary: canary}}}  # a run configuration inline, or a file relative to this one
//!   outcome: succeeded                   # default
//!   maxBrokenPairSeconds: 0              # default 0: an outage fails unless allowed
//!   anchorRotated: true
//!   restartOrder: [{first: canary, then: payments}]
//! ```

mod expect;
mod files;
mod verdict;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_norway::Value;

use crate::cluster::Cluster;
use crate::cluster::sim::SimCluster;
use crate::config::RunConfig;
use crate::report::RunReport;
use crate::runtime::{LoadedPolicy, RunControls, Runtime, RuntimeOptions};

use super::{CommandError, GuestSource, new_runtime, one_line, read_config, read_guest};
use crate::oci::RegistryOptions;
use files::{Case, read_case, scenario_error};

pub use expect::{Expect, ExpectedOutcome, RestartOrder, find_expect};
pub use verdict::{Restart, Verdict, check, order_problem, restarts};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy component for scenarios whose Expect names none: a .wasm file
    /// or oci://HOST/REPO[:TAG][@sha256:DIGEST] [default: the built-in policy].
    #[arg(long, value_name = "FILE.wasm|oci://REF", value_parser = GuestSource::parse)]
    pub guest: Option<GuestSource>,

    #[command(flatten)]
    pub registry: RegistryOptions,

    /// Run configuration for scenarios whose Expect gives none.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Scenario files, or directories whose `*.yaml` files are run (those without an Expect document are skipped).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// Exit 0 only when every scenario passed.
pub async fn run(args: TestArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    let files = files::collect(&args.paths)?;
    let default_config = read_config(args.config.as_deref())?;
    super::multicluster::one_cluster_only(&default_config, "test")?;
    let mut cases = Vec::new();
    for file in files {
        match read_case(&file)? {
            Some(case) => cases.push(case),
            None => eprintln!("skipped {}: no Expect document", file.path.display()),
        }
    }
    if cases.is_empty() {
        let path = args.paths.first().cloned().unwrap_or_default();
        return Err(scenario_error(
            &path,
            "no scenario with a `kind: Expect` document to test".into(),
        ));
    }
    let runtime = new_runtime(options.clone())?;
    let mut tester = Tester {
        runtime,
        default_guest: args.guest.clone(),
        registry: args.registry.clone(),
        cache_dir: options.cache_dir.clone(),
        default_config,
        loaded: HashMap::new(),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in cases {
        let verdict = tester.run_case(case).await;
        if verdict.failures.is_empty() {
            passed += 1;
        } else {
            failed += 1;
        }
        println!("{}", verdict.line());
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct Tester {
    runtime: Runtime,
    default_guest: Option<GuestSource>,
    registry: RegistryOptions,
    cache_dir: Option<PathBuf>,
    default_config: RunConfig,
    /// Compiled policies by source (`None`: the built-in one).
    loaded: HashMap<Option<GuestSource>, LoadedPolicy>,
}

impl Tester {
    async fn run_case(&mut self, case: Case) -> Verdict {
        let failures = match self.run_one(&case.path, &case.text, &case.expect).await {
            Ok(report) => check(&case.expect, &report),
            Err(message) => vec![message],
        };
        Verdict {
            name: case.name,
            failures,
        }
    }

    async fn run_one(
        &mut self,
        path: &Path,
        text: &str,
        expect: &Expect,
    ) -> Result<RunReport, String> {
        let base = path.parent().unwrap_or(Path::new("."));
        let config = match &expect.config {
            None => self.default_config.clone(),
            Some(Value::String(file)) => {
                RunConfig::load(&base.join(file)).map_err(|e| one_line(&e.to_string()))?
            }
            Some(inline) => {
                let text = serde_norway::to_string(inline)
                    .map_err(|e| format!("Expect spec.config: {e}"))?;
                RunConfig::parse(&text, path).map_err(|e| one_line(&e.to_string()))?
            }
        };
        let guest = match &expect.guest {
            Some(file) => Some(GuestSource::File(base.join(file))),
            None => self.default_guest.clone(),
        };
        let cluster = Arc::new(
            SimCluster::from_yaml(text)
                .map_err(|e| format!("scenario: {}", one_line(&e.to_string())))?,
        );
        if !self.loaded.contains_key(&guest) {
            let source = read_guest(guest.as_ref(), &self.registry, self.cache_dir.as_deref())
                .await
                .map_err(|e| one_line(&e.to_string()))?;
            let policy = self
                .runtime
                .load(&source.label, &source.wasm)
                .map_err(|e| one_line(&e.to_string()))?;
            self.loaded.insert(guest.clone(), policy);
        }
        let policy = &self.loaded[&guest];
        let backend: Arc<dyn Cluster> = cluster.clone();
        let outcome = self
            .runtime
            .run(
                policy,
                backend,
                &config,
                RunControls {
                    dry_run: expect.dry_run,
                    ..RunControls::default()
                },
            )
            .await;
        // Judge the mesh as it settles after the run, as `simulate` does.
        cluster.watch_after_run();
        Ok(RunReport::new(
            outcome,
            policy,
            cluster.backend(),
            expect.dry_run,
            Some(cluster.simulation_report()),
        ))
    }
}
