//! The simulated cluster: an in-memory model of Kubernetes, cert-manager,
//! trust-manager and Linkerd's trust mechanics, in virtual time.

pub mod report;

pub use report::SimulationReport;
