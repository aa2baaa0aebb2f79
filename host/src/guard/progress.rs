//! The progress record and the clock through the guard: the record's size
//! bound and write grant, and waits held to the run deadline and the
//! per-wait bound.

use super::*;

impl Guard {
    pub async fn load_progress(&mut self) -> GuardResult<Option<String>> {
        self.enter(Primitive::LoadProgress).await?;
        if let Some(saved) = &self.dry_progress {
            return Ok(saved.clone());
        }
        Ok(self.cluster.load_progress().await?)
    }

    pub async fn save_progress(&mut self, value: &str) -> GuardResult<()> {
        self.enter(Primitive::SaveProgress).await?;
        if value.len() > MAX_OBJECT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "progress record of {} bytes exceeds {MAX_OBJECT_BYTES}",
                value.len()
            ))
            .into());
        }
        // Progress lives wherever the backend keeps it: only the verb matters.
        self.require_verb(
            Primitive::SaveProgress,
            Verb::SaveProgress,
            "progress record",
        )
        .await?;
        if self.dry_run {
            self.dry_progress = Some(Some(value.to_string()));
            self.hold_back(
                Primitive::SaveProgress,
                "progress record".into(),
                format!("save {} bytes", value.len()),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.save_progress(value).await;
        self.audit_applied(
            Primitive::SaveProgress,
            "progress record".into(),
            format!("saved {} bytes", value.len()),
            result,
        )
        .await
    }

    pub async fn clear_progress(&mut self) -> GuardResult<()> {
        self.enter(Primitive::ClearProgress).await?;
        self.require_verb(
            Primitive::ClearProgress,
            Verb::SaveProgress,
            "progress record",
        )
        .await?;
        if self.dry_run {
            self.dry_progress = Some(None);
            self.hold_back(
                Primitive::ClearProgress,
                "progress record".into(),
                "clear the progress record".into(),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.clear_progress().await;
        self.audit_applied(
            Primitive::ClearProgress,
            "progress record".into(),
            "cleared".into(),
            result,
        )
        .await
    }

    pub async fn clock_now(&mut self) -> GuardResult<Timestamp> {
        self.enter(Primitive::Now).await?;
        Ok(self.cluster.now().await)
    }

    /// A wait past the run's deadline ends the run instead of sleeping into it.
    pub async fn wait(&mut self, seconds: u32) -> GuardResult<()> {
        self.enter(Primitive::Wait).await?;
        self.check_wait_bound(Primitive::Wait, seconds)?;
        let now = self.cluster.now().await;
        if now.saturating_add(i64::from(seconds)) > self.deadline_at() {
            return Err(self.deadline_error(format!(
                "wait of {seconds} s requested at +{} s",
                now - self.started_at
            )));
        }
        Ok(self.cluster.wait(seconds).await?)
    }
}
