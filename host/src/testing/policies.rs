//! One runtime and the policies tests compile once per test process: the
//! default policy and the fixture guests of `tests/guests` (built by the
//! host's build script into `GUESTS_DIR`). Compiling a component takes
//! seconds, so every test in a process shares these.

use std::path::Path;
use std::sync::OnceLock;

use crate::runtime::{DEFAULT_POLICY, GUESTS_DIR, LoadedPolicy, Runtime, RuntimeOptions};

/// The process's runtime (no compile cache on disk).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeOptions::default()).expect("runtime"))
}

/// The bytes of a fixture guest, `tests/guests/<name>`.
pub fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(GUESTS_DIR).join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The default policy, compiled once.
pub fn default_policy() -> &'static LoadedPolicy {
    static POLICY: OnceLock<LoadedPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load("linkerd-rotation", DEFAULT_POLICY)
            .expect("the default policy loads")
    })
}

/// The hostile fixture (`tests/guests/hostile`), compiled once.
pub fn hostile_policy() -> &'static LoadedPolicy {
    static POLICY: OnceLock<LoadedPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load("hostile.wasm", &guest("hostile"))
            .expect("the hostile fixture loads")
    })
}
