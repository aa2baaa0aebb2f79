//! Whole runs of real guest components against the fake backend: the
//! sandbox, the limits and the guard seen from inside Wasm.

use std::sync::Arc;

use super::*;
use crate::testing::fake::FakeCluster;
use crate::testing::policies::{default_policy, guest, hostile_policy as hostile, runtime};

fn config(mode: &str) -> RunConfig {
    let mut config = RunConfig {
        policy: Some(serde_json::Value::String(mode.into())),
        ..RunConfig::default()
    };
    config.limits.cpu_seconds = 2;
    config.limits.memory_mib = 64;
    config
}

async fn run_hostile(config: RunConfig) -> (Arc<FakeCluster>, RunOutcome) {
    let cluster = Arc::new(FakeCluster::standard());
    let outcome = runtime()
        .run(hostile(), cluster.clone(), &config, RunControls::default())
        .await;
    (cluster, outcome)
}

fn fact<'a>(summary: &'a PolicySummary, key: &str) -> &'a str {
    summary
        .facts
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
        .unwrap_or_else(|| panic!("no fact {key} in {summary:?}"))
}

fn failure(outcome: &RunOutcome) -> &RunFailure {
    match &outcome.result {
        Err(f) => f,
        Ok(s) => panic!("expected failure, policy returned {s:?}"),
    }
}

/// The fake backend has no cert-manager objects: the default policy must
/// stop with an expected error (a value), not a trap, and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_policy_stops_cleanly_on_a_cluster_without_linkerd() {
    let cluster = Arc::new(FakeCluster::standard());
    let outcome = runtime()
        .run(
            default_policy(),
            cluster.clone(),
            &RunConfig::default(),
            RunControls::default(),
        )
        .await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::PolicyError, "{f}");
    assert!(f.message.contains("linkerd-trust-anchor"), "{f}");
    assert!(cluster.mutations().is_empty(), "{:?}", cluster.mutations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_grants_no_files_env_args_sockets_or_stdin() {
    let (_, outcome) = run_hostile(config("sandbox-probe")).await;
    let summary = outcome.result.as_ref().expect("probe returns");
    for key in ["file", "listing", "env-var", "socket"] {
        assert!(
            fact(summary, key).starts_with("error"),
            "{key}: {}",
            fact(summary, key)
        );
    }
    assert_eq!(fact(summary, "env-count"), "0");
    assert_eq!(fact(summary, "args"), "0");
    assert!(
        !fact(summary, "stdin").contains("read 1"),
        "{}",
        fact(summary, "stdin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_hits_the_cpu_deadline() {
    let (_, outcome) = run_hostile(config("loop")).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::CpuDeadline, "{f}");
    assert_eq!(f.message, "CPU deadline exceeded (2 s)");
    assert!(
        f.backtrace
            .iter()
            .any(|frame| frame.contains("hostile::spin_forever")),
        "{:?}",
        f.backtrace
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_stops_at_the_cap() {
    let (_, outcome) = run_hostile(config("memory-bomb")).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::MemoryCap, "{f}");
    assert!(
        f.message.starts_with("memory cap of 64 MiB exceeded"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_traps_with_a_readable_backtrace() {
    let (_, outcome) = run_hostile(config("recursion")).await;
    let f = failure(&outcome);
    // Rust keeps its stack in linear memory: overflowing it runs off the
    // bottom of memory before wasm's own stack limit is reached.
    assert!(
        matches!(f.kind, FailureKind::Trap | FailureKind::StackOverflow),
        "{f}"
    );
    assert!(
        f.backtrace
            .iter()
            .any(|frame| frame.contains("hostile::recurse (x")),
        "{:?}",
        f.backtrace
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_message_reaches_the_failure() {
    let (_, outcome) = run_hostile(config("panic")).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::Trap);
    assert!(
        f.policy_error_log
            .as_deref()
            .is_some_and(|m| m.contains("hostile guest panicked on purpose")),
        "{f:?}"
    );
    assert!(
        f.to_string().contains("hostile guest panicked on purpose"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_is_captured_for_the_failure() {
    let (_, outcome) = run_hostile(config("abort")).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::Trap, "{f}");
    assert_eq!(f.stderr.as_deref(), Some("hostile guest is about to abort"));
    assert!(
        f.to_string()
            .contains("stderr: hostile guest is about to abort"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_forever_ends_at_the_run_deadline() {
    let mut cfg = config("wait-forever");
    cfg.limits.deadline_seconds = 7200;
    let (cluster, outcome) = run_hostile(cfg).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::RunDeadline, "{f}");
    assert!(
        f.message.starts_with("run deadline of 7200 s exceeded"),
        "{f}"
    );
    // Two one-hour waits fit in two hours of virtual time; the third does not.
    assert_eq!(outcome.finished_at - outcome.started_at, 7200);
    assert_eq!(cluster.mutations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_outside_grants_is_denied_and_the_policy_carries_on() {
    let (cluster, outcome) = run_hostile(config("write-secret-outside-grants")).await;
    let summary = outcome.result.as_ref().expect("policy carries on");
    assert!(
        fact(summary, "write").starts_with("denied: "),
        "{summary:?}"
    );
    assert_eq!(fact(summary, "namespaces"), "3");
    assert!(cluster.mutations().is_empty());
    assert_eq!(outcome.record.calls.denied, 1);
    let audit = serde_json::to_string(&outcome.record.audit).expect("json");
    assert!(!audit.contains("stolen-key-material"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giant_log_is_capped() {
    let (_, outcome) = run_hostile(config("giant-log")).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result.err());
    assert_eq!(outcome.log_lines, policy_log::MAX_LINES_PER_RUN);
    assert_eq!(outcome.log_dropped, 20_001 - policy_log::MAX_LINES_PER_RUN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giant_string_argument_is_invalid() {
    let (_, outcome) = run_hostile(config("giant-string")).await;
    let summary = outcome.result.as_ref().expect("policy handles invalid");
    assert!(
        fact(summary, "outcome").starts_with("invalid: argument label-selector"),
        "{summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_runtime_survives_many_failed_runs() {
    for mode in ["panic", "memory-bomb", "succeed"] {
        let (_, outcome) = run_hostile(config(mode)).await;
        assert_eq!(outcome.result.is_ok(), mode == "succeed", "{mode}");
    }
}

#[test]
fn non_components_are_refused_with_a_clear_error() {
    let err = runtime()
        .load("notes.txt", b"hello world")
        .err()
        .expect("not wasm");
    assert!(matches!(err, LoadError::NotWasm { .. }), "{err}");
    let core_module = b"\0asm\x01\0\0\0";
    let err = runtime()
        .load("core.wasm", core_module)
        .err()
        .expect("core module");
    assert!(
        err.to_string()
            .contains("core WebAssembly module, not a component"),
        "{err}"
    );
}

#[test]
fn cache_round_trip_hits_on_the_second_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().to_path_buf()),
    })
    .expect("runtime");
    let wasm = guest("hello");
    let first = rt.load("hello.wasm", &wasm).expect("compiles");
    assert_eq!(first.timings.cache, CacheUse::Miss);
    let second = rt.load("hello.wasm", &wasm).expect("from cache");
    assert_eq!(second.timings.cache, CacheUse::Hit);
    assert_eq!(first.sha256, second.sha256);
}

#[test]
fn unwritable_cache_is_only_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file-not-dir");
    std::fs::write(&blocker, b"x").expect("write");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(blocker.join("cache")),
    })
    .expect("runtime");
    let loaded = rt
        .load("hello.wasm", &guest("hello"))
        .expect("loads without a cache");
    assert_eq!(loaded.timings.cache, CacheUse::Miss);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_host_call_is_cut_by_the_wall_clock() {
    let cluster = Arc::new(FakeCluster::standard());
    cluster.state.lock().expect("lock").stall_waits = true;
    let mut cfg = config("stall");
    cfg.limits.deadline_seconds = 2;
    let started = std::time::Instant::now();
    let outcome = runtime()
        .run(hostile(), cluster, &cfg, RunControls::default())
        .await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::WallClock, "{f}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_of_host_calls_still_hits_the_cpu_deadline() {
    let mut cfg = config("host-call-loop");
    cfg.limits.cpu_seconds = 1;
    let (_, outcome) = run_hostile(cfg).await;
    let f = failure(&outcome);
    assert_eq!(f.kind, FailureKind::CpuDeadline, "{f}");
}
