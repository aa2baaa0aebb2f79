//! The wasmtime host: one engine, compiled policies cached on disk, and one
//! fresh sandboxed `Store` per run with memory, CPU, run-deadline and
//! wall-clock limits. A policy reaches nothing but its imports and cannot
//! outlive its limits; a trap is reported with its cause and a Wasm
//! backtrace.

pub mod cache;
pub mod engine;
pub mod failure;
pub mod imports;
pub mod inspect;
pub mod limiter;
pub mod load;
pub mod policy_log;
pub mod progress;
pub mod state;
pub mod steps;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::cluster::Backend;
use crate::cluster::Cluster;
use crate::config::RunConfig;
use crate::guard::{
    ClusterGuards, Grants, Guard, GuardRecord, KillSwitch, LOCAL_CLUSTER, TimeLimits,
};
use crate::observe::RunObserver;
use crate::wit::{KeyValue, Policy, Timestamp};

pub use cache::{ComponentCache, default_cache_dir};
pub use failure::{FailureKind, RunFailure};
pub use inspect::PolicyInfo;
pub use load::{CacheUse, LoadError, LoadTimings, LoadedPolicy, WasmKind};
pub use progress::ProgressTracker;
pub use state::HostState;
pub use steps::Step;

/// rotor's default policy (`guests/linkerd-rotation`), built by `build.rs`.
pub const DEFAULT_POLICY: &[u8] = include_bytes!(env!("ROTOR_DEFAULT_POLICY"));

/// The directory holding every component the guests workspace built
/// (`hello.wasm`, `hostile.wasm`, ...), for tests and examples.
pub const GUESTS_DIR: &str = env!("ROTOR_GUESTS_DIR");

/// In the simulator the deadline is virtual; the wall clock still bounds a
/// run whose policy is stuck in host calls, at most this long.
pub const SIMULATOR_WALL_CAP: Duration = Duration::from_secs(15 * 60);
/// Against a cluster, the wall-clock bound is the deadline plus this grace,
/// so the deadline (checked at each host call) normally speaks first.
const CLUSTER_WALL_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(#[from] std::io::Error),
}

/// Where to cache compiled policies; `None` disables the cache.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub cache_dir: Option<PathBuf>,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ComponentCache>,
    _ticker: engine::EpochTicker,
}

/// The policy's `summary`, already redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicySummary {
    pub message: String,
    pub facts: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunTimings {
    pub cache: CacheUse,
    pub load_ms: f64,
    pub instantiate_ms: f64,
    pub call_ms: f64,
}

/// Everything one run produced, for the report.
pub struct RunOutcome {
    pub result: Result<PolicySummary, RunFailure>,
    pub steps: Vec<Step>,
    pub record: GuardRecord,
    pub log_lines: u64,
    pub log_dropped: u64,
    /// Backend times (virtual in the simulator).
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub wall: Duration,
    pub timings: RunTimings,
}

/// How one run is carried out beyond its configuration. A plain run is
/// `RunControls::default()`.
#[derive(Clone, Default)]
pub struct RunControls {
    /// Record mutations instead of applying them.
    pub dry_run: bool,
    /// End the run right after this many applied mutations, leaving the
    /// cluster as a crashed process would (resume testing).
    pub kill_after_mutations: Option<u64>,
    /// Emit progress events (target `rotor::progress`) as the run goes.
    pub progress: bool,
    /// Told of each ended step and applied restart (the run's Events).
    pub observer: Option<Arc<dyn RunObserver>>,
}

impl std::fmt::Debug for RunControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunControls")
            .field("dry_run", &self.dry_run)
            .field("kill_after_mutations", &self.kill_after_mutations)
            .field("progress", &self.progress)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// One cluster of a run over several: how policies name it, whether it is
/// home, how to reach it and what the policy may do there.
pub struct RunCluster {
    pub name: String,
    pub home: bool,
    pub cluster: Arc<dyn Cluster>,
    pub grants: Grants,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let engine = engine::new_engine().map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("linking WASI: {e:#}")))?;
        Policy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| RuntimeError::Engine(format!("linking rotor:policy: {e:#}")))?;
        let ticker = engine::EpochTicker::start(&engine)?;
        Ok(Runtime {
            engine,
            linker,
            cache: options.cache_dir.map(ComponentCache::new),
            _ticker: ticker,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Run a loaded policy once, in a fresh Store, against `cluster`, as
    /// `controls` say.
    pub async fn run(
        &self,
        policy: &LoadedPolicy,
        cluster: Arc<dyn Cluster>,
        config: &RunConfig,
        controls: RunControls,
    ) -> RunOutcome {
        let local = RunCluster {
            name: LOCAL_CLUSTER.to_string(),
            home: true,
            cluster,
            grants: config.grants.clone(),
        };
        self.run_clusters(policy, vec![local], config, controls)
            .await
    }

    /// [`Runtime::run`] over several clusters, home first: each gets its
    /// own guard (its grants, its audit), the policy selects among them.
    /// The run's clock, deadline and Events are the home cluster's.
    pub async fn run_clusters(
        &self,
        policy: &LoadedPolicy,
        clusters: Vec<RunCluster>,
        config: &RunConfig,
        controls: RunControls,
    ) -> RunOutcome {
        let dry_run = controls.dry_run;
        let wall_started = Instant::now();
        let limits = &config.limits;
        let time_limits = TimeLimits {
            deadline_seconds: limits.deadline_seconds,
            max_wait_seconds: limits.max_wait_seconds,
        };
        let kill = controls.kill_after_mutations.map(KillSwitch::after);
        let mut guards = Vec::with_capacity(clusters.len());
        for member in clusters {
            let observer = if member.home {
                controls.observer.clone()
            } else {
                None
            };
            let mut guard = Guard::new(member.cluster, member.grants, time_limits, dry_run)
                .await
                .with_observer(observer);
            guard.kill_switch(kill.clone());
            guards.push((member.name, member.home, guard));
        }
        let guards = ClusterGuards::new(guards);
        let started_at = guards.home().started_at();
        let backend = guards.home().backend();
        let wall_limit = wall_limit(backend, limits.deadline_seconds);
        let mut state = HostState::new(guards, limits.memory_mib);
        state.progress = controls.progress.then(|| ProgressTracker::new(backend));
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        let cpu_budget = Duration::from_secs(limits.cpu_seconds);
        store.epoch_deadline_callback(move |ctx| {
            if ctx.data().cpu.guest_time() > cpu_budget {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield so the wall-clock timeout around the call can fire.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);

        let deadline = tokio::time::Instant::now() + wall_limit;
        let policy_config = config.policy_json();
        let mut call_ms = 0.0;

        let instantiate_started = Instant::now();
        let instantiated =
            tokio::time::timeout_at(deadline, policy.pre.instantiate_async(&mut store)).await;
        let instantiate_ms = instantiate_started.elapsed().as_secs_f64() * 1000.0;
        let call_result = match instantiated {
            Err(_) => Err(RunFailure::wall_clock(wall_limit.as_secs())),
            Ok(Err(e)) => {
                let memory = store.data().limiter.exceeded.clone();
                let mut failure = RunFailure::from_trap(&e, memory.as_ref(), limits.cpu_seconds);
                if failure.kind == FailureKind::Trap {
                    failure.kind = FailureKind::Instantiate;
                    failure.message = format!("policy could not start: {}", failure.message);
                }
                Err(failure)
            }
            Ok(Ok(instance)) => {
                let call_started = Instant::now();
                let called = tokio::time::timeout_at(
                    deadline,
                    instance.call_run(&mut store, &policy_config),
                )
                .await;
                call_ms += call_started.elapsed().as_secs_f64() * 1000.0;
                match called {
                    Err(_) => Err(RunFailure::wall_clock(wall_limit.as_secs())),
                    Ok(Err(e)) => {
                        let memory = store.data().limiter.exceeded.clone();
                        Err(RunFailure::from_trap(
                            &e,
                            memory.as_ref(),
                            limits.cpu_seconds,
                        ))
                    }
                    Ok(Ok(Err(policy_error))) => Err(RunFailure::policy_error(&policy_error)),
                    Ok(Ok(Ok(summary))) => Ok(summary),
                }
            }
        };

        let state = store.into_data();
        let finished_at = state.clusters.home().now().await;
        let redactor = state.clusters.redactor().clone();
        let redact = |text: &str| redactor.redact(text).into_owned();
        let result = match call_result {
            Ok(summary) => Ok(PolicySummary {
                message: redact(&summary.message),
                facts: summary
                    .facts
                    .iter()
                    .map(|kv| KeyValue::new(redact(&kv.key), redact(&kv.value)))
                    .collect(),
            }),
            Err(mut failure) => {
                failure.message = redact(&failure.message);
                let stderr = state.stderr_text();
                Err(failure.with_context(state.log.last_error.clone(), stderr))
            }
        };
        if state.progress.is_some() {
            progress::run_finished(result.is_ok(), started_at, finished_at);
        }
        let mut steps = state.steps;
        steps.map_text(redact);
        let steps = steps.finish(finished_at, result.is_ok());

        RunOutcome {
            result,
            steps,
            record: state.clusters.into_record(),
            log_lines: state.log.lines,
            log_dropped: state.log.dropped,
            started_at,
            finished_at,
            wall: wall_started.elapsed(),
            timings: RunTimings {
                cache: policy.timings.cache,
                load_ms: policy.timings.load_ms,
                instantiate_ms,
                call_ms,
            },
        }
    }
}

fn wall_limit(backend: Backend, deadline_seconds: u64) -> Duration {
    let deadline = Duration::from_secs(deadline_seconds);
    if backend == Backend::Simulated {
        deadline.min(SIMULATOR_WALL_CAP)
    } else {
        deadline + CLUSTER_WALL_GRACE
    }
}
