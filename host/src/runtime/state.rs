//! What one run's `Store` holds: the (empty) WASI context, the resource
//! table, the memory limiter, the guard of each cluster, the policy's log and steps, and the
//! clock that tells guest CPU time from time spent in host calls.

use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::guard::ClusterGuards;

use super::limiter::MemoryLimiter;
use super::policy_log::PolicyLog;
use super::progress::ProgressTracker;
use super::steps::StepRecorder;

/// Resource handles a policy may hold at once (WASI streams, pollables).
pub const MAX_RESOURCES: usize = 1_000;
/// Bytes of guest stderr kept for the report (a panic message fits easily).
pub const STDERR_CAPACITY: usize = 64 * 1024;

/// Guest time = wall time since the call began minus time inside host calls.
/// Epochs tick in wall time; this keeps a policy that spends an hour in
/// `wait` from being charged an hour of CPU.
#[derive(Debug)]
pub struct CpuClock {
    started: Instant,
    in_host: Duration,
}

impl CpuClock {
    pub fn start() -> CpuClock {
        CpuClock {
            started: Instant::now(),
            in_host: Duration::ZERO,
        }
    }

    pub fn add_host_time(&mut self, spent: Duration) {
        self.in_host += spent;
    }

    pub fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.in_host)
    }
}

pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// One guard per cluster and the selected one; cluster calls go there.
    pub clusters: ClusterGuards,
    pub log: PolicyLog,
    pub steps: StepRecorder,
    /// Present when the command shows where the run stands (`run`, `plan`, `simulate`).
    pub progress: Option<ProgressTracker>,
    pub cpu: CpuClock,
    pub stderr: MemoryOutputPipe,
}

impl HostState {
    /// Nothing granted: no preopens, env, args, network or stdin; stdout
    /// discarded; stderr captured (bounded) for the report.
    pub fn new(clusters: ClusterGuards, memory_mib: u64) -> HostState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_blocking_current_thread(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        HostState {
            wasi,
            table,
            limiter: MemoryLimiter::new(memory_mib),
            clusters,
            log: PolicyLog::default(),
            steps: StepRecorder::default(),
            progress: None,
            cpu: CpuClock::start(),
            stderr,
        }
    }

    /// What the guest wrote to stderr, lossily decoded and redacted.
    pub fn stderr_text(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        self.clusters.redactor().redact(text.trim()).into_owned()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
