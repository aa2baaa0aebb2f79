//! The clusters of the run (`rotor:policy/clusters`, since 0.1.6): which
//! ones there are, and which one later calls reach. A run over one cluster
//! has one, `local`, home and selected from the start. A policy that calls
//! none of these never imports the interface, and rotor refuses to run it
//! over several clusters.

pub use crate::bindings::rotor::policy::clusters::ClusterInfo;

use crate::Error;
use crate::bindings::rotor::policy::clusters as wit;

/// Every cluster of the run, home first, then in the configuration's order.
pub fn list() -> Vec<ClusterInfo> {
    wit::list()
}

/// Send every later cluster call (namespaces through progress) to `name`,
/// under that cluster's grants; `not-found` for a name [`list`] lacks.
pub fn select(name: &str) -> Result<(), Error> {
    wit::select(name)
}

/// The cluster later calls reach.
pub fn current() -> String {
    wit::current()
}
