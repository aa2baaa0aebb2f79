//! Site policy `canary-first`: every restart round restarts one named
//! namespace first and verifies it (rollouts done, every pod fresh and
//! Ready), then the rest of the data plane.
//!
//! Configuration: `{"site": {"canary": "canary"}, "rotation": {...}}`.

use rotor_sdk::mesh;
use rotor_sdk::rotation::{self, Site, SiteConfig, Stage, Target};
use rotor_sdk::{Error, Policy, RotorError, Summary};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Canary {
    /// The namespace restarted (and verified) before any other.
    canary: String,
}

impl Site for Canary {
    fn stages(&self, data_plane: Vec<Target>) -> Result<Vec<Stage>, RotorError> {
        let (canary, rest): (Vec<Target>, Vec<Target>) = data_plane
            .into_iter()
            .partition(|t| t.id.namespace == self.canary);
        if canary.is_empty() {
            return Err(RotorError::Config(format!(
                "site.canary: namespace {:?} has no meshed workload rotor may restart",
                self.canary
            )));
        }
        Ok(vec![
            Stage {
                name: format!("canary-{}", self.canary),
                targets: canary,
            },
            Stage {
                name: "rest".into(),
                targets: rest,
            },
        ])
    }
}

/// Refuse a canary namespace with nothing meshed before anything changes
/// (the stage check above catches one emptied during the run).
fn check_canary(config: &SiteConfig<Canary>) -> Result<(), RotorError> {
    let found = mesh::discover(&config.rotation.control_plane_namespace)?;
    if found
        .workloads
        .keys()
        .any(|id| id.namespace == config.site.canary)
    {
        return Ok(());
    }
    Err(RotorError::Config(format!(
        "site.canary: namespace {:?} has no meshed workload",
        config.site.canary
    )))
}

fn run(text: &str) -> Result<Summary, RotorError> {
    let config = SiteConfig::<Canary>::parse(text)?;
    check_canary(&config)?;
    rotation::run_site(config.rotation, &config.site)
}

struct CanaryFirst;

impl Policy for CanaryFirst {
    fn run(config: String) -> Result<Summary, Error> {
        run(&config).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(CanaryFirst);
