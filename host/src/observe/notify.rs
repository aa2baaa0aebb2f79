//! Webhook notifications: a JSON message when a run starts, succeeds and
//! fails, either rotor's own shape or Slack's (`text` plus a section block,
//! what Slack incoming webhooks and most chat bridges accept). The URL is a
//! credential, so it comes from a file or an environment variable (a Secret
//! in the chart), never from a flag, and never appears in logs.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{failed_step, outcome_line, restarts};
use crate::report::RunReport;

/// The variable the chart fills from the webhook Secret.
pub const WEBHOOK_URL_ENV: &str = "ROTOR_WEBHOOK_URL";
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WebhookFormat {
    /// `{"event": "started" | "succeeded" | "failed", ...}` with the run summary.
    #[default]
    Generic,
    /// `{"text": ..., "blocks": [...]}` for Slack incoming webhooks.
    Slack,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("--webhook-url-file {path}: cannot read: {source}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{from}: the webhook URL is not an http(s) URL")]
    BadUrl { from: String },
    #[error("both --webhook-url-file and {WEBHOOK_URL_ENV} are set; use one")]
    Both,
}

/// What a message is about.
pub enum Notice<'a> {
    Started {
        policy: &'a str,
        sha256: &'a str,
        namespace: &'a str,
    },
    Finished {
        report: &'a RunReport,
        namespace: &'a str,
    },
}

#[derive(Debug, Clone)]
pub struct Notifier {
    url: reqwest::Url,
    format: WebhookFormat,
}

impl Notifier {
    /// From `--webhook-url-file` or `$ROTOR_WEBHOOK_URL` (`env` is the
    /// variable's value); `None` when neither is set.
    pub fn configure(
        file: Option<&Path>,
        env: Option<String>,
        format: WebhookFormat,
    ) -> Result<Option<Notifier>, NotifyError> {
        let env = env.filter(|v| !v.trim().is_empty());
        let (text, from) = match (file, env) {
            (Some(_), Some(_)) => return Err(NotifyError::Both),
            (None, None) => return Ok(None),
            (Some(path), None) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| NotifyError::ReadFile {
                        path: path.display().to_string(),
                        source,
                    })?;
                (text, format!("--webhook-url-file {}", path.display()))
            }
            (None, Some(v)) => (v, WEBHOOK_URL_ENV.to_string()),
        };
        let url = reqwest::Url::parse(text.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(NotifyError::BadUrl { from })?;
        Ok(Some(Notifier { url, format }))
    }

    /// Send one message; a failure is logged (without the URL) and swallowed.
    pub async fn send(&self, notice: &Notice<'_>) {
        let body = render(self.format, notice);
        let sent = reqwest::Client::new()
            .post(self.url.clone())
            .json(&body)
            .timeout(NOTIFY_TIMEOUT)
            .send()
            .await;
        let problem = match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => format!("the webhook answered {}", r.status()),
            // Without the URL: it is a credential.
            Err(e) => format!("cannot reach the webhook: {}", e.without_url()),
        };
        tracing::warn!(
            event = event_name(notice),
            problem,
            "notification not delivered; the run goes on"
        );
    }
}

fn event_name(notice: &Notice<'_>) -> &'static str {
    match notice {
        Notice::Started { .. } => "started",
        Notice::Finished { report, .. } if report.succeeded() => "succeeded",
        Notice::Finished { .. } => "failed",
    }
}

/// The JSON body of a message in `format`.
pub fn render(format: WebhookFormat, notice: &Notice<'_>) -> Value {
    let event = event_name(notice);
    match format {
        WebhookFormat::Generic => generic(event, notice),
        WebhookFormat::Slack => {
            let text = headline(notice);
            json!({
                "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            })
        }
    }
}

fn generic(event: &str, notice: &Notice<'_>) -> Value {
    match notice {
        Notice::Started {
            policy,
            sha256,
            namespace,
        } => json!({
            "event": event,
            "namespace": namespace,
            "policy": policy,
            "policySha256": sha256,
        }),
        Notice::Finished { report, namespace } => json!({
            "event": event,
            "namespace": namespace,
            "dryRun": report.dry_run,
            "startedAt": report.started_at,
            "finishedAt": report.finished_at,
            "durationSeconds": report.wall_ms as f64 / 1000.0,
            "workloadRestarts": restarts(report),
            "summary": report.summary.as_ref().map(|s| s.message.as_str()),
            "error": report.error,
            "failedStep": failed_step(report),
            "steps": report.steps.iter().map(|s| json!({"name": s.name, "ok": s.ok})).collect::<Vec<_>>(),
        }),
    }
}

/// One line for people, as chat shows it.
fn headline(notice: &Notice<'_>) -> String {
    match notice {
        Notice::Started {
            policy, namespace, ..
        } => format!("rotor ({namespace}): rotation started with {policy}"),
        Notice::Finished { report, namespace } => {
            format!("rotor ({namespace}): rotation {}", outcome_line(report))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_messages_are_text_and_a_section() {
        let notice = Notice::Started {
            policy: "built-in linkerd-rotation policy",
            sha256: "ab",
            namespace: "rotor-system",
        };
        let text = "rotor (rotor-system): rotation started with built-in linkerd-rotation policy";
        assert_eq!(
            render(WebhookFormat::Slack, &notice),
            json!({"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]})
        );
        assert_eq!(render(WebhookFormat::Generic, &notice)["event"], "started");
    }

    #[test]
    fn url_sources() {
        assert!(
            Notifier::configure(None, None, WebhookFormat::Generic)
                .unwrap()
                .is_none()
        );
        assert!(
            Notifier::configure(None, Some("  ".into()), WebhookFormat::Generic)
                .unwrap()
                .is_none()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "https://hooks.example/T0/B0/x\n").unwrap();
        let n = Notifier::configure(Some(&file), None, WebhookFormat::Slack)
            .unwrap()
            .unwrap();
        assert_eq!(n.url.as_str(), "https://hooks.example/T0/B0/x");
        let e = Notifier::configure(Some(&file), Some("http://x".into()), WebhookFormat::Slack)
            .unwrap_err();
        assert!(matches!(e, NotifyError::Both), "{e}");
        let e = Notifier::configure(None, Some("hooks.example/x".into()), WebhookFormat::Generic)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ROTOR_WEBHOOK_URL: the webhook URL is not an http(s) URL"
        );
        let e = Notifier::configure(
            Some(&dir.path().join("missing")),
            None,
            WebhookFormat::Generic,
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing: cannot read"), "{e}");
    }
}
