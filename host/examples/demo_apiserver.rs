//! A Kubernetes API server over the simulated demo mesh, to try `rotor run`,
//! `rotor status` and `rotor plan` by hand (the progress display, the exit
//! codes) without a cluster.
//!
//! ```text
//! cargo run -p rotor --example demo_apiserver -- KUBECONFIG [MS_PER_VIRTUAL_SECOND]
//! rotor run --kubeconfig KUBECONFIG
//! ```
//!
//! The simulator's clock starts at the wall clock's time (rotor's clock
//! against a cluster) and runs one virtual second every
//! `MS_PER_VIRTUAL_SECOND` wall milliseconds (default 100). It serves until
//! interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rotor::cluster::sim::SimCluster;
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(kubeconfig) = args.next().map(PathBuf::from) else {
        eprintln!("usage: demo_apiserver KUBECONFIG [MS_PER_VIRTUAL_SECOND]");
        return ExitCode::from(2);
    };
    let tick = match args.next().map(|a| a.parse::<u64>()) {
        None => 100,
        Some(Ok(ms)) if ms > 0 => ms,
        Some(_) => {
            eprintln!("demo_apiserver: MS_PER_VIRTUAL_SECOND must be a positive whole number");
            return ExitCode::from(2);
        }
    };
    let options = ServerOptions {
        tick: Some(Duration::from_millis(tick)),
        ..ServerOptions::default()
    };
    let now = jiff::Timestamp::now().as_second();
    let now = jiff::Timestamp::from_second(now).unwrap_or_else(|_| jiff::Timestamp::now());
    let yaml = rotor::cluster::sim::DEMO_SCENARIO.replace(
        "startTime: \"2026-03-02T09:00:00Z\"",
        &format!("startTime: \"{now}\""),
    );
    let sim = match SimCluster::from_yaml(&yaml) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("demo_apiserver: the demo does not load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match TestApiServer::over_sim(Arc::new(sim), options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("demo_apiserver: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = server.write_kubeconfig(&kubeconfig) {
        eprintln!("demo_apiserver: cannot write {}: {e}", kubeconfig.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "serving the demo mesh at {}; kubeconfig {}",
        server.url(),
        kubeconfig.display()
    );
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
