//! Host overhead: compiling the default policy, loading it from the compiled
//! cache, instantiating it per run, one host call round trip, and the size
//! of the default policy component.
//!
//! ```text
//! cargo run --release -p rotor --example bench_host
//! ```
//!
//! The round trip is timed with the `call-loop` test guest: a run making
//! `CALLS` `clock.now` calls minus a run making none, divided by `CALLS`.

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::runtime::{
    CacheUse, DEFAULT_POLICY, GUESTS_DIR, LoadedPolicy, RunControls, Runtime, RuntimeOptions,
};

const COMPILES: usize = 3;
const CACHE_LOADS: usize = 20;
const RUNS: usize = 20;
const CALLS: u64 = 200_000;
const CALL_RUNS: usize = 5;

fn main() -> ExitCode {
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_host: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<(), String> {
    println!("machine: {}", common::machine());
    println!(
        "default policy component: {} bytes ({:.1} KiB)",
        DEFAULT_POLICY.len(),
        DEFAULT_POLICY.len() as f64 / 1024.0
    );

    let uncached = Runtime::new(RuntimeOptions { cache_dir: None }).map_err(|e| e.to_string())?;
    let compiles: Vec<f64> = (0..COMPILES)
        .map(|_| load(&uncached, "linkerd-rotation", DEFAULT_POLICY).map(|p| p.timings.load_ms))
        .collect::<Result<_, _>>()?;
    println!(
        "compile (no cache), median of {COMPILES}: {:.1} ms  (all: {})",
        common::median(compiles.clone()),
        list(&compiles)
    );

    let dir = tempfile::tempdir().map_err(|e| format!("temporary cache dir: {e}"))?;
    let cached = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().to_path_buf()),
    })
    .map_err(|e| e.to_string())?;
    let first = load(&cached, "linkerd-rotation", DEFAULT_POLICY)?;
    if first.timings.cache != CacheUse::Miss {
        return Err(format!(
            "first load into an empty cache was {:?}",
            first.timings.cache
        ));
    }
    let mut hits = vec![];
    for _ in 0..CACHE_LOADS {
        let p = load(&cached, "linkerd-rotation", DEFAULT_POLICY)?;
        if p.timings.cache != CacheUse::Hit {
            return Err(format!("a cached load was {:?}", p.timings.cache));
        }
        hits.push(p.timings.load_ms);
    }
    println!(
        "load from cache (target < 10 ms), median of {CACHE_LOADS}: {:.3} ms",
        common::median(hits)
    );

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    // Instantiation of the default policy, once per run, on fresh demo clusters.
    let mut instantiate = vec![];
    for _ in 0..RUNS {
        let cluster = Arc::new(SimCluster::demo());
        let outcome = tokio.block_on(cached.run(
            &first,
            cluster,
            &RunConfig::default(),
            RunControls::default(),
        ));
        if let Err(failure) = outcome.result {
            return Err(format!("default policy on the demo failed: {failure}"));
        }
        instantiate.push(outcome.timings.instantiate_ms);
    }
    println!(
        "instantiate per run (target < 1 ms), median of {RUNS}: {:.3} ms",
        common::median(instantiate)
    );

    let path = Path::new(GUESTS_DIR).join("call_loop.wasm");
    let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let call_loop = load(&cached, "call-loop", &wasm)?;
    let call_ms = |calls: u64| -> Result<f64, String> {
        let config = RunConfig {
            policy: Some(serde_json::Value::from(calls)),
            ..RunConfig::default()
        };
        let outcome = tokio.block_on(cached.run(
            &call_loop,
            Arc::new(SimCluster::demo()),
            &config,
            RunControls::default(),
        ));
        match outcome.result {
            Ok(_) => Ok(outcome.timings.call_ms),
            Err(failure) => Err(format!("call-loop with {calls} calls failed: {failure}")),
        }
    };
    let mut per_call_us = vec![];
    for _ in 0..CALL_RUNS {
        let empty = call_ms(0)?;
        let full = call_ms(CALLS)?;
        per_call_us.push((full - empty) * 1000.0 / CALLS as f64);
    }
    println!(
        "host call round trip, clock.now (target < 5 us), median of {CALL_RUNS} x {CALLS} calls: {:.3} us  (all: {})",
        common::median(per_call_us.clone()),
        list(&per_call_us)
    );
    Ok(())
}

fn load(runtime: &Runtime, label: &str, wasm: &[u8]) -> Result<LoadedPolicy, String> {
    runtime.load(label, wasm).map_err(|e| e.to_string())
}

fn list(samples: &[f64]) -> String {
    samples
        .iter()
        .map(|s| format!("{s:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
