//! events.k8s.io Events: kept in the store as written, and handed to the
//! backing cluster's event record, where rotor's own checks read them.

use serde_json::Value;

use super::super::status::ApiError;
use super::super::{Backend, Reply, store};
use super::name_of;
use crate::wit::{EventType, ObjectRef};

impl Backend {
    /// An events.k8s.io/v1 Event handed to the backing cluster.
    pub(super) async fn record(&self, ev: &Value) -> Result<(), ApiError> {
        let s = |p: &str| {
            ev.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let involved = ObjectRef {
            kind: s("/regarding/kind"),
            namespace: s("/regarding/namespace"),
            name: s("/regarding/name"),
        };
        let type_ = if s("/type") == "Warning" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        self.cluster
            .record_event(&involved, type_, &s("/reason"), &s("/note"))
            .await
            .map_err(|e| ApiError::from_cluster("events", name_of(ev), e))
    }

    /// kube's Recorder patches a repeated event's series.
    pub(super) async fn patch_event(
        &self,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Reply, ApiError> {
        let current = self.store.get("events.k8s.io/events", ns, name);
        let mut ev = current.ok_or_else(|| ApiError::not_found("events", name))?;
        store::merge_patch(&mut ev, patch);
        self.record(&ev).await?;
        let stored = self
            .store
            .patch("events.k8s.io/events", ns, name, patch, &self.versions)?;
        Ok(Reply::Json(200, stored))
    }
}
