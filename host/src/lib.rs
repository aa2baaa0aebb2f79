//! rotor: rotates a service mesh's trust anchor and identity issuer without
//! breaking meshed traffic. The host exposes cluster primitives to sandboxed
//! WebAssembly policies; see `DESIGN.md` for the flow of one run.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod guard;
pub mod lock;
pub mod logging;
pub mod observe;
pub mod report;
pub mod runtime;
/// Test support (a Kubernetes API server over any backend); not a stable API.
#[doc(hidden)]
pub mod testing;
pub mod wit;
pub mod x509;
