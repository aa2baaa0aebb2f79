//! The Linkerd rotation: each step, the gate after it, and the deadline on
//! the gate. The default policy runs it as is; a site policy changes the
//! parts a [`Site`] names (when to stop, how the data plane is staged)
//! without copying the steps and their gates.
//!
//! One file per concern: `run` walks the steps, `preflight` decides where
//! a run starts, `lint` whether the anchor and issuer are fit to rotate,
//! `version` whether rotor can rotate the control plane's Linkerd version,
//! `anchor`, `trust_bundle` and `issuer` hold the steps on
//! each piece of trust (`staged`: the two alternating anchors of
//! `mode: staged`; `bundle_writer`: rotor writing the bundle itself),
//! `rounds` the restart rounds, `unowned` the pods of
//! owners rotor does not restart, `summary` what a run
//! reports; `plan` the order and the progress record, `config` and `site`
//! what a policy passes in; `across_clusters` walks the steps over the
//! clusters of a multicluster mesh in lock-step.

mod across_clusters;
mod anchor;
mod bundle_writer;
pub mod config;
mod issuer;
mod leaf_refresh;
mod lint;
pub mod plan;
mod preflight;
mod rounds;
mod run;
mod site;
mod staged;
mod summary;
mod trust_bundle;
pub mod unowned;
mod version;

pub use across_clusters::run_across;
pub use config::{
    BundleSettings, BundleWriter, Config, ConfigError, Deadlines, IssuerAdoption, Mode, ObjectName,
};
pub use plan::Step;
pub use run::{run, run_site, stopped};
pub use site::{Default as DefaultSite, Site, SiteConfig, Stage, Target};
pub use unowned::{BarePods, Strategy, Unowned};
