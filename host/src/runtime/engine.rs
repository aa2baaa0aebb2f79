//! The one wasmtime `Engine` of a rotor process, and the OS thread that
//! advances its epoch so a guest stuck in a loop can be interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances; the CPU budget is checked at this grain.
pub const EPOCH_TICK: Duration = Duration::from_millis(50);

/// Cranelift with epoch interruption, the component model and async host calls.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32));
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config)
}

/// Increments the engine's epoch every [`EPOCH_TICK`] on its own OS thread:
/// a tokio task could be starved by the very guest it is meant to stop.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rotor-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
