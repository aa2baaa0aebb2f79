//! Site policy `waves-by-label`: every restart round restarts the data plane
//! in waves ordered by a workload label (e.g. `tier`: frontends, then
//! backends, then data), verifying each wave and pausing between waves.
//! Workloads without the label, or with a value the order does not list,
//! come last.
//!
//! Configuration:
//! `{"site": {"label": "tier", "order": ["web", "api", "db"], "pauseSeconds": 60}}`
//! (`order` defaults to the label's values sorted; `pauseSeconds` to 0).

use std::collections::BTreeSet;

use rotor_sdk::rotation::{self, Site, SiteConfig, Stage, Target};
use rotor_sdk::{CallContext, Error, Policy, RotorError, Summary};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Waves {
    /// The workload label whose values order the waves.
    label: String,
    /// Label values, first wave first.
    #[serde(default)]
    order: Vec<String>,
    /// Seconds to wait after a wave is verified, before the next starts.
    #[serde(default)]
    pause_seconds: u32,
}

/// The workload's value for `label` (its own labels, then its pod template's).
fn label_value<'a>(t: &'a Target, label: &str) -> Option<&'a str> {
    let w = &t.workload;
    w.labels
        .iter()
        .chain(&w.template_labels)
        .find(|kv| kv.key == label)
        .map(|kv| kv.value.as_str())
}

impl Waves {
    fn order(&self, data_plane: &[Target]) -> Vec<String> {
        if !self.order.is_empty() {
            return self.order.clone();
        }
        let values: BTreeSet<&str> = data_plane
            .iter()
            .filter_map(|t| label_value(t, &self.label))
            .collect();
        values.into_iter().map(String::from).collect()
    }
}

impl Site for Waves {
    fn stages(&self, data_plane: Vec<Target>) -> Result<Vec<Stage>, RotorError> {
        // Workloads left out here are restarted in a last `rest` stage.
        Ok(self
            .order(&data_plane)
            .into_iter()
            .map(|value| Stage {
                targets: data_plane
                    .iter()
                    .filter(|t| label_value(t, &self.label) == Some(value.as_str()))
                    .cloned()
                    .collect(),
                name: format!("{}-{value}", self.label),
            })
            .collect())
    }

    fn between_stages(&self, done: &Stage, next: &Stage) -> Result<(), RotorError> {
        if self.pause_seconds == 0 {
            return Ok(());
        }
        rotor_sdk::info(
            "pausing between waves",
            &[
                ("after", &done.name),
                ("before", &next.name),
                ("seconds", &self.pause_seconds.to_string()),
            ],
        );
        rotor_sdk::clock::wait(self.pause_seconds)
            .call(|| format!("wait {} s between waves", self.pause_seconds))
    }
}

struct WavesByLabel;

impl Policy for WavesByLabel {
    fn run(config: String) -> Result<Summary, Error> {
        let config = SiteConfig::<Waves>::parse(&config).map_err(rotation::stopped)?;
        if config.site.label.is_empty() {
            return Err(rotation::stopped(RotorError::Config(
                "site.label must name a workload label".into(),
            )));
        }
        rotation::run_site(config.rotation, &config.site).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(WavesByLabel);
