//! Events: listed from core/v1 by an `involvedObject` field selector (what
//! the identity controller writes), written with kube's `Recorder`
//! (events.k8s.io/v1).

use k8s_openapi::api::core::v1::{Event as K8sEvent, ObjectReference};
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event as NewEvent, EventType as NewEventType};

use super::{KubeCluster, check_name, convert, error};
use crate::cluster::ClusterResult;
use crate::wit::{Event, EventType, ObjectRef};

/// The API version of the kinds events can be about, for the reference.
fn api_version(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => Some("apps/v1"),
        "Certificate" | "Issuer" | "ClusterIssuer" => Some("cert-manager.io/v1"),
        "Pod" | "Secret" | "ConfigMap" | "Namespace" => Some("v1"),
        _ => None,
    }
}

impl KubeCluster {
    pub(super) async fn events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        check_name("kind", &involved.kind.to_ascii_lowercase())?;
        check_name("name", &involved.name)?;
        let mut fields = vec![
            format!("involvedObject.kind={}", involved.kind),
            format!("involvedObject.name={}", involved.name),
        ];
        let api: Api<K8sEvent> = if involved.namespace.is_empty() {
            Api::all(self.client.clone())
        } else {
            check_name("namespace", &involved.namespace)?;
            fields.push(format!("involvedObject.namespace={}", involved.namespace));
            Api::namespaced(self.client.clone(), &involved.namespace)
        };
        if let Some(r) = reason {
            if !r.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(crate::cluster::ClusterError::Invalid(format!(
                    "event reason {r:?} must be alphanumeric"
                )));
            }
            fields.push(format!("reason={r}"));
        }
        let lp = ListParams::default().fields(&fields.join(","));
        let list = self.retry.run("list events", || api.list(&lp)).await?;
        let mut out: Vec<Event> = list.items.iter().map(convert::event_record).collect();
        out.sort_by_key(|e| (e.last_time, e.first_time));
        Ok(out)
    }

    pub(super) async fn publish_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        let reference = ObjectReference {
            api_version: api_version(&involved.kind).map(String::from),
            kind: Some(involved.kind.clone()),
            name: Some(involved.name.clone()),
            namespace: (!involved.namespace.is_empty()).then(|| involved.namespace.clone()),
            ..ObjectReference::default()
        };
        let ev = NewEvent {
            type_: match type_ {
                EventType::Normal => NewEventType::Normal,
                EventType::Warning => NewEventType::Warning,
            },
            reason: reason.to_string(),
            note: Some(message.chars().take(1024).collect()),
            action: "Rotate".into(),
            secondary: None,
        };
        if self.dry_run {
            // The Recorder has no dry-run switch; an event about an action not
            // taken would mislead whoever reads `kubectl describe`.
            tracing::info!(reason, message, "dry run: event not recorded");
            return Ok(());
        }
        let what = format!(
            "record event {reason} on {} {}",
            involved.kind, involved.name
        );
        let timeout = self.retry.call_timeout;
        match tokio::time::timeout(timeout, self.recorder.publish(&ev, &reference)).await {
            Ok(r) => r.map_err(|e| error::map_error(&what, e)),
            Err(_) => Err(crate::cluster::ClusterError::Timeout(format!(
                "{what}: no answer from the API server within {}s",
                timeout.as_secs()
            ))),
        }
    }
}
