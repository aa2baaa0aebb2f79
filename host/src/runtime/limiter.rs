//! The guest's memory cap: wasmtime's `StoreLimits` (with trap-on-grow
//! failure) plus a note of the growth that hit the cap, so the report can
//! say "memory cap exceeded" instead of a bare trap.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Enough core instances, tables and memories for any Rust component
/// (main module, WASI adapter shims, fix-ups), far from abuse.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The growth that was refused: the trap that follows is reported as this.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("memory cap of {cap_mib} MiB exceeded (the policy asked for {requested_mib} MiB)")]
pub struct MemoryCapExceeded {
    pub cap_mib: u64,
    pub requested_mib: u64,
}

pub struct MemoryLimiter {
    inner: StoreLimits,
    cap_mib: u64,
    /// Set when a memory growth was refused.
    pub exceeded: Option<MemoryCapExceeded>,
}

impl MemoryLimiter {
    pub fn new(cap_mib: u64) -> MemoryLimiter {
        let bytes = usize::try_from(cap_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let inner = StoreLimitsBuilder::new()
            .memory_size(bytes)
            .instances(MAX_INSTANCES)
            .tables(MAX_TABLES)
            .memories(MAX_MEMORIES)
            .table_elements(MAX_TABLE_ELEMENTS)
            .trap_on_grow_failure(true)
            .build();
        MemoryLimiter {
            inner,
            cap_mib,
            exceeded: None,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let verdict = self.inner.memory_growing(current, desired, maximum);
        if !matches!(verdict, Ok(true)) {
            let requested_mib = (desired as u64).div_ceil(1 << 20);
            let exceeded = MemoryCapExceeded {
                cap_mib: self.cap_mib,
                requested_mib,
            };
            self.exceeded = Some(exceeded.clone());
            return Err(wasmtime::Error::new(exceeded));
        }
        verdict
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
