//! `rotor scenario generate`: write a generated mesh scenario for scale runs.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{GenerateArgs, ScenarioCommand};
use crate::cluster::sim::generate::{GenerateOptions, generate};

use super::{CommandError, write_file};

pub fn run(command: ScenarioCommand) -> Result<ExitCode, CommandError> {
    match command {
        ScenarioCommand::Generate(args) => run_generate(&args),
    }
}

fn run_generate(args: &GenerateArgs) -> Result<ExitCode, CommandError> {
    let generated = generate(&GenerateOptions {
        namespaces: args.namespaces,
        workloads_per_namespace: args.workloads_per_namespace,
        statefulsets: args.statefulsets,
        daemonsets: args.daemonsets,
        seed: args.seed,
    })?;
    match &args.output {
        Some(path) => {
            write_file("scenario", path, &generated.yaml)?;
            let c = generated.counts;
            // The file is the product; a one-line account goes to stderr.
            eprintln!(
                "wrote {}: {} namespaces ({} meshed by pod annotations), {} Deployments, {} StatefulSets, {} DaemonSets, {} meshed pods",
                path.display(),
                c.namespaces,
                c.pod_level_namespaces,
                c.deployments,
                c.statefulsets,
                c.daemonsets,
                c.pods
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(generated.yaml.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|source| CommandError::Write {
                    what: "scenario",
                    path: "<stdout>".into(),
                    source,
                })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::sim::SimCluster;
    use crate::config::RunConfig;
    use crate::runtime::{DEFAULT_POLICY, Runtime, RuntimeOptions};

    /// The written file loads, and the default policy rotates it with no
    /// broken pair at any moment.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn default_rotation_of_a_generated_scenario_has_no_outage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("generated.yaml");
        let args = GenerateArgs {
            namespaces: 6,
            workloads_per_namespace: 3,
            statefulsets: 2,
            daemonsets: 1,
            seed: 3,
            output: Some(path.clone()),
        };
        let code = run(ScenarioCommand::Generate(args)).expect("generates");
        assert_eq!(code, ExitCode::SUCCESS);
        let text = std::fs::read_to_string(&path).expect("written");
        let cluster = Arc::new(SimCluster::from_yaml(&text).expect("loads"));

        let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
        let policy = runtime
            .load("default", DEFAULT_POLICY)
            .expect("default policy loads");
        let outcome = runtime
            .run(&policy, cluster.clone(), &RunConfig::default(), false)
            .await;
        if let Err(failure) = &outcome.result {
            panic!("rotation failed: {failure}");
        }
        let report = cluster.simulation_report();
        assert_eq!(report.outage.broken_pair_seconds, 0.0, "{report:?}");
        assert!(report.outage.windows.is_empty(), "{report:?}");
        assert!(report.final_state.anchor_rotated, "{report:?}");
        assert_eq!(report.final_state.proxies_trusting_retired_anchor, 0);
        assert!(report.final_state.workloads_not_ready.is_empty());
        // Six namespaces of three workloads each were restarted, not skipped.
        assert!(report.virtual_seconds > 0);
    }

    #[test]
    fn bad_options_are_a_command_error() {
        let args = GenerateArgs {
            namespaces: 1,
            workloads_per_namespace: 1,
            statefulsets: 1,
            daemonsets: 1,
            seed: 1,
            output: None,
        };
        let err = run(ScenarioCommand::Generate(args)).unwrap_err();
        assert!(err.to_string().contains("--statefulsets"), "{err}");
    }
}
