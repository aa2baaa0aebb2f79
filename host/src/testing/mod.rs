//! Test support that speaks to rotor the way a real cluster does.
//!
//! `apiserver::TestApiServer` serves the Kubernetes wire format on
//! 127.0.0.1, backed by any [`Cluster`](crate::cluster::Cluster) (in tests
//! the simulator), so `KubeCluster`, `kubectl` and `rotor run` can be driven
//! end to end without a cluster; `rbac` evaluates Kubernetes RBAC against
//! the requests it recorded; `registry` runs a real OCI registry and the
//! real cosign for the policy artifact tests and benchmarks. Not part of
//! rotor's supported API.

pub mod apiserver;
pub mod fake;
pub mod policies;
pub mod rbac;
pub mod registry;
