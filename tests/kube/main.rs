//! rotor's Kubernetes backend and commands against a Kubernetes API: the
//! primitives, the run lock, kubectl's view, `status` (with the control
//! plane's Linkerd version), `status` across clusters and the
//! shared-anchor refusal of `plan` and `run`, `run`, a whole
//! rotation, the trust roots written without trust-manager, what a run
//! tells the world, and the chart's RBAC proven
//! against the requests rotor makes. One test binary (one link, one
//! compiled default policy) for all of them.

#[path = "../support/mod.rs"]
mod support;

mod across_clusters;
mod kubectl;
mod lock;
mod multicluster;
mod observe;
mod primitives;
mod rbac_proof;
mod rotation;
mod run;
mod sidecar;
mod status;
mod trust_roots;
mod unowned;
mod version;
