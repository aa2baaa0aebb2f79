//! What the guard records about a run: calls per primitive, every mutation
//! (applied, recorded in dry-run, or failed) and every refused call.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::primitive::Primitive;
use crate::wit::Timestamp;

/// Call counters, as they appear under `calls` in the run report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CallCounts {
    pub by_primitive: BTreeMap<Primitive, u64>,
    pub total: u64,
    pub mutations: u64,
    pub denied: u64,
}

impl CallCounts {
    pub fn count(&mut self, primitive: Primitive) {
        *self.by_primitive.entry(primitive).or_default() += 1;
        self.total += 1;
    }
}

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    Applied,
    DryRun,
    Denied,
    Failed,
}

/// One mutation or refusal. `detail` never carries Secret data.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// Backend time (virtual in the simulator).
    pub at: Timestamp,
    pub primitive: Primitive,
    /// `Kind namespace/name` of what the call touched.
    pub target: String,
    pub outcome: AuditOutcome,
    pub detail: String,
    /// The cluster the call went to, named only when a run reaches several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// A mutation `--dry-run` held back, with what it would have done.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DryRunMutation {
    pub at: Timestamp,
    pub primitive: Primitive,
    pub target: String,
    pub would: String,
    /// As [`AuditEntry::cluster`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}
