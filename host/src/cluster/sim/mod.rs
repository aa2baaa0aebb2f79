//! The simulated cluster: an in-memory model of Kubernetes, cert-manager,
//! trust-manager and Linkerd's trust mechanics, in virtual time.

pub mod manifest;
pub mod pki;
pub mod report;
pub mod scenario;

pub use report::SimulationReport;
pub use scenario::ScenarioError;
