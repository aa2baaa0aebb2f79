//! Kubernetes Events through the guard: reads, and events recorded behind
//! the events grant.

use super::*;

impl Guard {
    pub async fn list_events(
        &mut self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> GuardResult<Vec<Event>> {
        self.enter(Primitive::ListEvents).await?;
        bounded(&[
            ("kind", &involved.kind),
            ("namespace", &involved.namespace),
            ("name", &involved.name),
            ("reason", reason.unwrap_or("")),
        ])?;
        self.require_read_ns(Primitive::ListEvents, &involved.namespace, "events")
            .await?;
        Ok(self.cluster.list_events(involved, reason).await?)
    }

    pub async fn record_event(
        &mut self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> GuardResult<()> {
        self.enter(Primitive::RecordEvent).await?;
        bounded(&[
            ("kind", &involved.kind),
            ("namespace", &involved.namespace),
            ("name", &involved.name),
            ("reason", reason),
            ("message", message),
        ])?;
        let target = format!("{} {}/{}", involved.kind, involved.namespace, involved.name);
        self.require_write(
            Primitive::RecordEvent,
            Verb::RecordEvent,
            &involved.namespace,
            &target,
        )
        .await?;
        let message = self.redactor.redact(message).into_owned();
        let detail = format!("{type_:?} {reason}: {message}");
        if self.dry_run {
            self.hold_back(
                Primitive::RecordEvent,
                target,
                format!("record event {detail}"),
            )
            .await;
            return Ok(());
        }
        let result = self
            .cluster
            .record_event(involved, type_, reason, &message)
            .await;
        self.audit_applied(Primitive::RecordEvent, target, detail, result)
            .await
    }
}
