//! rotor: rotates a service mesh's trust anchor and identity issuer without
//! breaking meshed traffic. The host exposes cluster primitives to sandboxed
//! WebAssembly policies. One run: the policy's imports (`runtime`) pass the
//! guard (`guard`: grants, limits, audit, dry run) to a `cluster::Cluster`
//! backend (the simulator or a real cluster), and the outcome becomes a
//! `report`.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod guard;
pub mod linkerd;
pub mod lock;
pub mod logging;
pub mod observe;
pub mod oci;
pub mod primitive;
pub mod report;
pub mod runtime;
pub mod shared_anchor;
/// Test support (a Kubernetes API server over any backend); not a stable API.
/// Compiled only with the `testing` feature, which rotor's tests turn on.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
pub mod text;
pub mod wit;
pub mod x509;
