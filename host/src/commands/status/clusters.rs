//! `rotor status` over the clusters a run configuration lists: each
//! cluster's status as for one cluster, named, and the shared-anchor check
//! across them. The exit code is the worst of them: a rotation in progress
//! anywhere, then anything that needs attention, the check included.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::Status;
use super::render::state;
use super::{EXIT_ATTENTION, EXIT_IN_PROGRESS, EXIT_OK, StatusArgs, StatusFormat};
use crate::commands::{KubeCommandError, Member};
use crate::shared_anchor::SharedAnchor;

/// One cluster's status, named.
#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    pub name: String,
    pub home: bool,
    pub status: Status,
}

/// Every cluster's status and the check across them.
#[derive(Debug, Clone, Serialize)]
pub struct ClustersStatus {
    pub clusters: Vec<MemberStatus>,
    pub shared_anchor: SharedAnchor,
}

/// Look at every member, then judge their trust together. Nothing is written.
pub async fn collect_members(
    members: &[Member],
    args: &StatusArgs,
) -> Result<ClustersStatus, KubeCommandError> {
    let mut clusters = Vec::with_capacity(members.len());
    for m in members {
        let status =
            super::look(&m.kube, args)
                .await
                .map_err(|source| KubeCommandError::Member {
                    cluster: m.name.clone(),
                    source: Box::new(source),
                })?;
        clusters.push(MemberStatus {
            name: m.name.clone(),
            home: m.home,
            status,
        });
    }
    let shared_anchor = crate::commands::multicluster::check(members).await?;
    Ok(ClustersStatus {
        clusters,
        shared_anchor,
    })
}

impl ClustersStatus {
    pub fn exit_code(&self) -> u8 {
        let codes = self.clusters.iter().map(|c| c.status.exit_code());
        if codes.clone().any(|c| c == EXIT_IN_PROGRESS) {
            EXIT_IN_PROGRESS
        } else if codes.clone().all(|c| c == EXIT_OK) && self.shared_anchor.ok() {
            EXIT_OK
        } else {
            EXIT_ATTENTION
        }
    }

    /// Text or JSON; `None` for Prometheus, whose series name no cluster.
    pub fn render(&self, format: StatusFormat) -> Option<String> {
        match format {
            StatusFormat::Text => Some(self.render_text()),
            StatusFormat::Json => serde_json::to_string_pretty(self).ok().map(|j| j + "\n"),
            StatusFormat::Prometheus => None,
        }
    }

    fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "status: {}", state(self.exit_code()));
        let names: Vec<String> = self
            .clusters
            .iter()
            .map(|c| {
                let mark = if c.home { " (home)" } else { "" };
                format!("{}{mark}: {}", c.name, state(c.status.exit_code()))
            })
            .collect();
        let _ = writeln!(out, "clusters: {}", names.join(", "));
        if self.shared_anchor.ok() {
            let _ = writeln!(out, "  {}", self.shared_anchor.line());
        }
        for p in &self.shared_anchor.problems {
            let _ = writeln!(out, "  ! {p}");
        }
        for c in &self.clusters {
            let mark = if c.home { " (home)" } else { "" };
            let _ = write!(
                out,
                "\n== cluster {}{mark} ==\n{}",
                c.name,
                c.status.render_text()
            );
        }
        out
    }
}
