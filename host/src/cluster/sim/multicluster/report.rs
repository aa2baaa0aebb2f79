//! What a multicluster simulation reports: each cluster's own report, the
//! pairs across clusters, and the total outage of both.

use serde::Serialize;

use super::super::report::{OutageReport, SimulationReport};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterReport {
    pub name: String,
    pub home: bool,
    /// Outage within the cluster, its never-ready pods and final state.
    pub simulation: SimulationReport,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MulticlusterReport {
    /// The home cluster first.
    pub clusters: Vec<ClusterReport>,
    /// Pairs whose client and server run in different clusters.
    pub cross_cluster: OutageReport,
    /// Broken pair-seconds within every cluster plus across clusters.
    pub broken_pair_seconds: f64,
}

impl MulticlusterReport {
    pub fn new(clusters: Vec<ClusterReport>, cross_cluster: OutageReport) -> MulticlusterReport {
        let broken_pair_seconds = clusters
            .iter()
            .map(|c| c.simulation.outage.broken_pair_seconds)
            .sum::<f64>()
            + cross_cluster.broken_pair_seconds;
        MulticlusterReport {
            clusters,
            cross_cluster,
            broken_pair_seconds,
        }
    }

    /// Human-readable lines: each cluster, then the pairs across them.
    pub fn render_text(&self, out: &mut String) {
        use std::fmt::Write;
        for c in &self.clusters {
            let home = if c.home { " (home)" } else { "" };
            let _ = writeln!(out, "cluster {}{home}:", c.name);
            let mut inner = String::new();
            c.simulation.render_text(&mut inner);
            for line in inner.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let cross = &self.cross_cluster;
        if cross.broken_pair_seconds == 0.0 {
            let _ = writeln!(out, "across clusters: no outage");
        } else {
            let _ = writeln!(
                out,
                "across clusters: {} broken pair-seconds in {} window(s)",
                cross.broken_pair_seconds,
                cross.windows.len()
            );
            cross.render_windows(out);
        }
        let _ = writeln!(
            out,
            "total: {} broken pair-seconds",
            self.broken_pair_seconds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_adds_every_cluster_and_the_pairs_across() {
        let cluster = |name: &str, seconds: f64| ClusterReport {
            name: name.into(),
            home: name == "east",
            simulation: SimulationReport {
                outage: OutageReport {
                    broken_pair_seconds: seconds,
                    windows: Vec::new(),
                },
                ..SimulationReport::default()
            },
        };
        let cross = OutageReport {
            broken_pair_seconds: 7.0,
            windows: Vec::new(),
        };
        let r = MulticlusterReport::new(vec![cluster("east", 3.0), cluster("west", 5.0)], cross);
        assert_eq!(r.broken_pair_seconds, 15.0);
        let mut out = String::new();
        r.render_text(&mut out);
        assert!(out.contains("cluster east (home):"), "{out}");
        assert!(out.contains("cluster west:"), "{out}");
        assert!(
            out.contains("across clusters: 7 broken pair-seconds"),
            "{out}"
        );
    }
}
