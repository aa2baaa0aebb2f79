//! What the simulator adds to a run report: virtual time, outage, final state.

use serde::Serialize;

/// Flattened into the run report's JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulationReport {
    pub virtual_seconds: i64,
}

impl SimulationReport {
    /// Human-readable lines for the text report.
    pub fn render_text(&self, out: &mut String) {
        out.push_str(&format!("virtual time: {}s\n", self.virtual_seconds));
    }
}
