//! The guards of one run, one per cluster, and which of them receives the
//! policy's cluster calls (`rotor:policy/clusters`). Each cluster keeps its
//! own grants and audit, so a call is judged by the rules of the cluster it
//! reaches; a run over one cluster is the one-entry case.

use crate::cluster::ClusterError;
use crate::wit::ClusterInfo;

use super::{Guard, GuardRecord, Redactor};

/// What `clusters.list` calls the cluster of a run over one cluster.
pub const LOCAL_CLUSTER: &str = "local";

struct Member {
    name: String,
    home: bool,
    guard: Guard,
}

pub struct ClusterGuards {
    /// Home first, then the others in the configuration's order.
    members: Vec<Member>,
    selected: usize,
}

impl ClusterGuards {
    /// A run over one cluster: `local`, home, selected.
    pub fn single(guard: Guard) -> ClusterGuards {
        ClusterGuards::new(vec![(LOCAL_CLUSTER.to_string(), true, guard)])
    }

    /// `(name, home, guard)` per cluster, home first; the home cluster is
    /// selected. Panics on an empty list: a run reaches at least one cluster.
    pub fn new(members: Vec<(String, bool, Guard)>) -> ClusterGuards {
        assert!(!members.is_empty(), "a run reaches at least one cluster");
        let members: Vec<Member> = members
            .into_iter()
            .map(|(name, home, guard)| Member { name, home, guard })
            .collect();
        let selected = members.iter().position(|m| m.home).unwrap_or(0);
        ClusterGuards { members, selected }
    }

    /// The selected cluster's guard: where cluster calls go.
    pub fn guard(&self) -> &Guard {
        &self.members[self.selected].guard
    }

    pub fn guard_mut(&mut self) -> &mut Guard {
        &mut self.members[self.selected].guard
    }

    /// The home cluster's guard: the run's clock, deadline and Events.
    pub fn home(&self) -> &Guard {
        &self.members[self.home_index()].guard
    }

    pub fn home_mut(&mut self) -> &mut Guard {
        let home = self.home_index();
        &mut self.members[home].guard
    }

    fn home_index(&self) -> usize {
        self.members.iter().position(|m| m.home).unwrap_or(0)
    }

    pub fn list(&self) -> Vec<ClusterInfo> {
        self.members
            .iter()
            .map(|m| ClusterInfo {
                name: m.name.clone(),
                home: m.home,
            })
            .collect()
    }

    pub fn current(&self) -> &str {
        &self.members[self.selected].name
    }

    /// Route later calls to `name`. The values the outgoing guard learned
    /// go with the selection, so the selected guard's redactor always
    /// masks every Secret the run has read in any cluster.
    pub fn select(&mut self, name: &str) -> Result<(), ClusterError> {
        let Some(next) = self.members.iter().position(|m| m.name == name) else {
            let known: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
            return Err(ClusterError::NotFound(format!(
                "cluster {name:?} is not one of this run's clusters ({})",
                known.join(", ")
            )));
        };
        if next != self.selected {
            let learned = self.guard().redactor().clone();
            self.members[next].guard.redactor_mut().absorb(&learned);
            self.selected = next;
        }
        Ok(())
    }

    /// Masks every Secret value the run has read (see [`Self::select`]).
    pub fn redactor(&self) -> &Redactor {
        self.guard().redactor()
    }

    /// One record for the report. Over several clusters the counts add up
    /// and each audited call names its cluster; over one, the record is
    /// that guard's, unchanged.
    pub fn into_record(self) -> GuardRecord {
        let named = self.members.len() > 1;
        let mut record = GuardRecord::default();
        for member in self.members {
            let own = member.guard.into_record();
            for (primitive, count) in own.calls.by_primitive {
                *record.calls.by_primitive.entry(primitive).or_default() += count;
            }
            record.calls.total += own.calls.total;
            record.calls.mutations += own.calls.mutations;
            record.calls.denied += own.calls.denied;
            let cluster = named.then(|| member.name.clone());
            record.audit.extend(own.audit.into_iter().map(|mut entry| {
                entry.cluster = cluster.clone();
                entry
            }));
            record
                .dry_run_mutations
                .extend(own.dry_run_mutations.into_iter().map(|mut m| {
                    m.cluster = cluster.clone();
                    m
                }));
        }
        if named {
            record.audit.sort_by_key(|e| e.at);
            record.dry_run_mutations.sort_by_key(|m| m.at);
        }
        record
    }
}
