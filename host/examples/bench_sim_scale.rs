//! Simulation scale: a full default rotation (the built-in policy, run as
//! WebAssembly) of generated meshes of 100, 1,000 and 10,000 workloads, five
//! per namespace (10,000 across 2,000 namespaces). Each size runs in a child
//! process of its own so the peak memory it reports is that size's alone.
//!
//! ```text
//! cargo run --release -p rotor --example bench_sim_scale [-- WORKLOADS...]
//! ```

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::generate::{GenerateOptions, generate};
use rotor::config::RunConfig;
use rotor::runtime::{DEFAULT_POLICY, RunControls, Runtime, RuntimeOptions};

const PER_NAMESPACE: u32 = 5;
const DEFAULT_SIZES: [u32; 3] = [100, 1_000, 10_000];
/// Virtual seconds the policy may take (the default is two hours).
const RUN_DEADLINE_SECONDS: u64 = 24 * 3600;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--child") => child(&args[1..]),
        _ => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_sim_scale: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parent(args: &[String]) -> Result<(), String> {
    let sizes: Vec<u32> = if args.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        args.iter()
            .map(|a| match a.parse::<u32>() {
                Ok(w) if w >= PER_NAMESPACE && w.is_multiple_of(PER_NAMESPACE) => Ok(w),
                _ => Err(format!(
                    "workload count {a:?}: expected a multiple of {PER_NAMESPACE}"
                )),
            })
            .collect::<Result<_, _>>()?
    };
    println!("machine: {}", common::machine());
    let cache = tempfile::tempdir().map_err(|e| format!("temporary cache dir: {e}"))?;
    // Compile once so every child loads the policy from the cache, as a
    // scheduled run does.
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .map_err(|e| e.to_string())?
    .load("linkerd-rotation", DEFAULT_POLICY)
    .map_err(|e| e.to_string())?;

    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    println!(
        "{:>9} {:>10} {:>6} {:>10} {:>11} {:>10} {:>9} {:>13}",
        "workloads",
        "namespaces",
        "pods",
        "load ms",
        "rotation ms",
        "total ms",
        "peak MiB",
        "virtual s"
    );
    let mut rows: Vec<BTreeMap<String, f64>> = vec![];
    for w in sizes {
        let out = Command::new(&exe)
            .arg("--child")
            .arg(w.to_string())
            .arg(cache.path())
            .output()
            .map_err(|e| format!("running the {w}-workload child: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
            return Err(format!(
                "the {w}-workload run printed no result:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        };
        let row: BTreeMap<String, f64> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect();
        let f = |k: &str| row.get(k).copied().unwrap_or(f64::NAN);
        println!(
            "{:>9} {:>10} {:>6} {:>10.0} {:>11.0} {:>10.0} {:>9.1} {:>13}",
            f("workloads"),
            f("namespaces"),
            f("pods"),
            f("load_ms"),
            f("rotate_ms"),
            f("load_ms") + f("rotate_ms"),
            f("peak_kib") / 1024.0,
            f("virtual_s"),
        );
        rows.push(row);
    }
    // Growth: time per workload should stay flat if scaling is linear.
    for pair in rows.windows(2) {
        let per = |r: &BTreeMap<String, f64>| (r["load_ms"] + r["rotate_ms"]) / r["workloads"];
        println!(
            "{} -> {} workloads: x{:.0} workloads, x{:.1} total time, x{:.1} peak memory",
            pair[0]["workloads"],
            pair[1]["workloads"],
            pair[1]["workloads"] / pair[0]["workloads"],
            (per(&pair[1]) * pair[1]["workloads"]) / (per(&pair[0]) * pair[0]["workloads"]),
            pair[1]["peak_kib"] / pair[0]["peak_kib"],
        );
    }
    Ok(())
}

/// One size: generate, load, rotate, check, print a `RESULT key=value ...` line.
fn child(args: &[String]) -> Result<(), String> {
    let [workloads, cache_dir] = args else {
        return Err("usage: --child WORKLOADS CACHE_DIR".into());
    };
    let workloads: u32 = workloads
        .parse()
        .map_err(|e| format!("workloads {workloads:?}: {e}"))?;
    let generated = generate(&GenerateOptions {
        namespaces: workloads / PER_NAMESPACE,
        workloads_per_namespace: PER_NAMESPACE,
        statefulsets: workloads / 20,
        daemonsets: workloads / 100,
        seed: 1,
    })
    .map_err(|e| e.to_string())?;

    let started = Instant::now();
    let cluster = Arc::new(SimCluster::from_yaml(&generated.yaml).map_err(|e| e.to_string())?);
    let load_ms = common::ms_since(started);

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(Path::new(cache_dir).to_path_buf()),
    })
    .map_err(|e| e.to_string())?;
    let policy = runtime
        .load("linkerd-rotation", DEFAULT_POLICY)
        .map_err(|e| e.to_string())?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Restarting 10,000 workloads in waves takes longer than the default
    // two-hour run deadline in virtual time; give the run a day.
    let mut config = RunConfig::default();
    config.limits.deadline_seconds = RUN_DEADLINE_SECONDS;
    let started = Instant::now();
    let outcome =
        tokio.block_on(runtime.run(&policy, cluster.clone(), &config, RunControls::default()));
    let rotate_ms = common::ms_since(started);
    if let Err(failure) = &outcome.result {
        return Err(format!(
            "rotation of {workloads} workloads failed: {failure}"
        ));
    }
    let report = cluster.simulation_report();
    if report.outage.broken_pair_seconds > 0.0 || !report.final_state.anchor_rotated {
        return Err(format!(
            "rotation of {workloads} workloads broke traffic or left the anchor: {:?}",
            report.outage
        ));
    }
    println!(
        "RESULT workloads={workloads} namespaces={} pods={} load_ms={load_ms:.1} rotate_ms={rotate_ms:.1} peak_kib={} virtual_s={}",
        generated.counts.namespaces,
        generated.counts.pods,
        common::peak_rss_kib().unwrap_or(0),
        report.virtual_seconds,
    );
    Ok(())
}
