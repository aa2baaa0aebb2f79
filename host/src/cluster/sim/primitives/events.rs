//! Events: listing those of one object, oldest first, and recording
//! rotor's own, as the API server would keep them.

use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{Event, EventType, ObjectRef};

use super::super::SimCluster;

impl SimCluster {
    pub(in crate::cluster::sim) fn events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        let w = self.lock();
        let mut out: Vec<Event> = w
            .events
            .iter()
            .filter(|e| &e.involved == involved && reason.is_none_or(|r| r == e.reason))
            .map(|e| Event {
                involved: e.involved.clone(),
                type_: e.type_,
                reason: e.reason.clone(),
                message: e.message.clone(),
                count: e.count,
                first_time: e.first,
                last_time: e.last,
                source: e.source.clone(),
            })
            .collect();
        out.sort_by_key(|e| e.first_time);
        Ok(out)
    }

    pub(in crate::cluster::sim) fn publish_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        if reason.is_empty() {
            return Err(ClusterError::Invalid("an event needs a reason".into()));
        }
        self.lock()
            .record_event(involved.clone(), type_, reason, message, "rotor");
        Ok(())
    }
}
