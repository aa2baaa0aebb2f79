//! Writes to stored objects outside the pod and workload tables: resource
//! versions, Events (repeats fold into one, per reporting process, as a
//! Kubernetes event recorder does) and ConfigMap keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::sim::manifest::Labels;
use crate::wit::{EventType, ObjectRef};

use super::{ConfigMapRec, EventRec, World};

impl World {
    pub fn next_rv(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    pub fn record_event(
        &mut self,
        involved: ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
        source: &str,
    ) {
        self.record_event_from(0, involved, type_, reason, message, source);
    }

    /// As [`record_event`](Self::record_event), reported by one process
    /// among several that report alike (identity's replicas).
    pub fn record_event_from(
        &mut self,
        emitter: u64,
        involved: ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
        source: &str,
    ) {
        let now = self.now;
        if let Some(e) = self.events.iter_mut().rev().find(|e| {
            e.involved == involved
                && e.reason == reason
                && e.message == message
                && e.source == source
                && e.emitter == emitter
        }) {
            e.count += 1;
            e.last = now;
            return;
        }
        self.events.push(EventRec {
            involved,
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
            count: 1,
            first: now,
            last: now,
            source: source.to_string(),
            emitter,
        });
    }

    /// Store a ConfigMap key; returns whether the content changed.
    pub fn put_config_map(&mut self, ns: &str, name: &str, key: &str, value: Arc<str>) -> bool {
        let rv = self.resource_version + 1;
        let entry = self
            .config_maps
            .entry((ns.to_string(), name.to_string()))
            .or_insert_with(|| ConfigMapRec {
                data: BTreeMap::new(),
                labels: Labels::new(),
                annotations: Labels::new(),
                resource_version: rv,
            });
        if entry.data.get(key).is_some_and(|v| **v == *value) {
            return false;
        }
        entry.data.insert(key.to_string(), value);
        entry.resource_version = rv;
        self.resource_version = rv;
        true
    }
}
