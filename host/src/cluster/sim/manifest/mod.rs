//! The Kubernetes object shapes a scenario may hold, as serde types.
//!
//! Only the fields the simulator models are declared; everything else a
//! `kubectl get -o yaml` dump carries (managedFields, uid, ...) is ignored.
//! The same types serialise the state back out, so a dump loads again.
//!
//! One file per family: `core_objects` (metadata, selectors, conditions,
//! Namespaces, Secrets, ConfigMaps), `workloads` (Deployments,
//! StatefulSets, DaemonSets and their Pods), `certs` (cert-manager
//! Certificates and Issuers, trust-manager Bundles), `cluster_bundle`
//! (trust-manager's ClusterBundles), `simulation` (the rotor.dev
//! `Simulation` document) and `multicluster` (its fields for several
//! clusters in one scenario). Everything is re-exported here, so
//! callers name `manifest::X` whatever file `X` lives in.

mod certs;
mod cluster_bundle;
mod core_objects;
mod multicluster;
mod simulation;
mod workloads;

pub use certs::*;
pub use cluster_bundle::*;
pub use core_objects::*;
pub use multicluster::*;
pub use simulation::*;
pub use workloads::*;
