//! The rotor guest SDK: the `rotor:policy` bindings, ergonomic helpers, and
//! gated building blocks for rotating Linkerd's trust.
//!
//! A policy implements [`Policy`] and registers it with [`export_policy!`]:
//!
//! ```ignore
//! struct Hello;
//! impl rotor_sdk::Policy for Hello {
//!     fn run(_config: String) -> Result<rotor_sdk::Summary, rotor_sdk::Error> {
//!         rotor_sdk::info("hello", &[]);
//!         Ok(rotor_sdk::Summary { message: "done".into(), facts: vec![] })
//!     }
//! }
//! rotor_sdk::export_policy!(Hello);
//! ```
//!
//! Building blocks (each gate has a name and a deadline, and fails with a
//! [`GateError`] that says what it saw):
//! - [`certs`]: renew a Certificate and wait for the new revision; copy a
//!   certificate, never its key, into previous-anchor.
//! - [`bundle`]: wait for the trust-roots ConfigMap to hold / drop anchors.
//! - [`mesh`]: meshed workloads found from their pods, bare pods, paused
//!   Deployments.
//! - [`restart`]: `OnDelete` by hand, pods of a workload, pod gates.
//! - [`window`]: restart through a sliding window of rollouts.
//! - [`identity`]: did identity reload the issuer.
//! - [`record`]: the saved progress record, typed.
//! - [`clusters`]: the clusters of a multicluster run, and which one
//!   later calls reach.
//! - [`rotation`]: the whole Linkerd rotation (the default policy), with
//!   [`rotation::Site`] hooks for site policies: stop before a step, stage
//!   the data plane.

pub mod bindings {
    wit_bindgen::generate!({
        world: "policy",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "rotor_sdk::bindings",
    });
}

pub mod bundle;
pub mod bundle_writer;
pub mod certs;
pub mod clusters;
pub mod error;
pub mod exposition;
pub mod fingerprint;
pub mod gate;
pub mod identity;
pub mod identity_metrics;
pub mod mesh;
pub mod proxy_metrics;
pub mod record;
pub mod restart;
pub mod rotation;
mod step;
pub mod unowned;
pub mod utc;
pub mod window;

pub use bindings::rotor::policy::types::{Error, KeyValue, ObjectRef, Summary, WorkloadKind};
pub use bindings::rotor::policy::{
    certificates, clock, config_maps, context, events, log, namespaces, pods, progress, secrets,
    workloads, x509,
};
pub use error::{CallContext, GateError, RotorError};
pub use step::step;

/// A rotation policy: the component's one export.
pub trait Policy {
    fn run(config: String) -> Result<Summary, Error>;
}

/// Export a [`Policy`] as the component's `run`, with the panic hook installed.
#[macro_export]
macro_rules! export_policy {
    ($ty:ty) => {
        struct __RotorExport;
        impl $crate::bindings::Guest for __RotorExport {
            fn run(config: String) -> Result<$crate::Summary, $crate::Error> {
                $crate::install_panic_hook();
                <$ty as $crate::Policy>::run(config)
            }
        }
        $crate::bindings::export!(__RotorExport with_types_in $crate::bindings);
    };
}

/// Forward panic messages to the host's log before the trap, so the run
/// report says why the policy died.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        log::log(
            log::Level::Error,
            &format!("policy panicked: {message}"),
            &[],
        );
    }));
}

/// `KeyValue`s from string pairs.
pub fn fields(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: (*k).to_string(),
            value: (*v).to_string(),
        })
        .collect()
}

pub fn debug(message: &str, pairs: &[(&str, &str)]) {
    log::log(log::Level::Debug, message, &fields(pairs));
}

pub fn info(message: &str, pairs: &[(&str, &str)]) {
    log::log(log::Level::Info, message, &fields(pairs));
}

pub fn warn(message: &str, pairs: &[(&str, &str)]) {
    log::log(log::Level::Warn, message, &fields(pairs));
}

pub fn error(message: &str, pairs: &[(&str, &str)]) {
    log::log(log::Level::Error, message, &fields(pairs));
}
