//! Metrics of one run, pushed to a Prometheus Pushgateway at the end of the
//! run. rotor runs as a CronJob: nothing stays up to be scraped, so the run
//! pushes (push-add, HTTP POST: only the families it sends are replaced, so
//! a failed run keeps the last success timestamp of an earlier one).
//! Encoded with `prometheus-client`; names are listed in `docs/observability.md`.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::restarts;
use crate::report::RunReport;

/// The Pushgateway's content type for the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const JOB: &str = "rotor";
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

type FloatGauge = Gauge<f64, AtomicU64>;

/// Where to push: the gateway's base URL and the `instance` grouping label
/// (rotor's namespace, so two installations do not overwrite each other).
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub base: reqwest::Url,
    pub instance: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("--pushgateway {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("cannot encode the metrics: {0}")]
    Encode(std::fmt::Error),
    #[error("push to {url}: {message}")]
    Push { url: String, message: String },
}

impl PushTarget {
    pub fn parse(url: &str, instance: &str) -> Result<PushTarget, PushError> {
        let base = reqwest::Url::parse(url).map_err(|_| PushError::BadUrl(url.into()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(PushError::BadUrl(url.into()));
        }
        Ok(PushTarget {
            base,
            instance: instance.to_string(),
        })
    }

    /// `<base>/metrics/job/rotor/instance/<instance>`, each label value a
    /// percent-encoded path segment.
    pub fn url(&self) -> reqwest::Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["metrics", "job", JOB, "instance", &self.instance]);
        }
        url
    }

    /// POST the run's metrics; an error is for the caller to log.
    pub async fn push(&self, metrics: &RunMetrics) -> Result<(), PushError> {
        let body = metrics.encode()?;
        let url = self.url();
        // A password in the URL stays out of the message.
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let fail = |message: String| PushError::Push {
            url: shown.to_string(),
            message,
        };
        let response = reqwest::Client::new()
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)
            .timeout(PUSH_TIMEOUT)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(fail(format!("{status}: {}", text.trim())));
        }
        Ok(())
    }
}

/// The figures of one finished run.
pub struct RunMetrics {
    registry: Registry,
}

impl RunMetrics {
    pub fn from_report(report: &RunReport) -> RunMetrics {
        let mut registry = Registry::with_prefix("rotor");
        let mut gauge = |name: &str, help: &str, value: f64| {
            let g = FloatGauge::default();
            g.set(value);
            registry.register(name, help, g);
        };
        let succeeded = report.succeeded();
        gauge(
            "last_run_timestamp_seconds",
            "When the last run finished (Unix seconds).",
            report.finished_at as f64,
        );
        gauge(
            "last_run_success",
            "1 if the last run succeeded, 0 if it failed.",
            if succeeded { 1.0 } else { 0.0 },
        );
        if succeeded {
            gauge(
                "last_success_timestamp_seconds",
                "When the last successful run finished (Unix seconds).",
                report.finished_at as f64,
            );
        }
        gauge(
            "run_duration_seconds",
            "Wall-clock duration of the last run.",
            report.wall_ms as f64 / 1000.0,
        );
        gauge(
            "run_workload_restarts",
            "Workloads the last run restarted.",
            restarts(report) as f64,
        );
        let completed = report.steps.iter().filter(|s| s.ok == Some(true)).count();
        gauge(
            "phase_reached",
            "Steps of the last run that completed (the phase it reached).",
            completed as f64,
        );
        let gates = Family::<Vec<(String, String)>, FloatGauge>::default();
        for step in report.steps.iter().filter(|s| s.ok == Some(false)) {
            gates
                .get_or_create(&vec![("gate".to_string(), step.name.clone())])
                .inc();
        }
        registry.register(
            "gate_failures",
            "Steps (gates) that failed in the last run, by step name.",
            gates,
        );
        RunMetrics { registry }
    }

    /// Text exposition format (no OpenMetrics `# EOF`: the Pushgateway reads 0.0.4).
    pub fn encode(&self) -> Result<String, PushError> {
        let mut out = String::new();
        encode_registry(&mut out, &self.registry).map_err(PushError::Encode)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_key_is_in_the_path() {
        let t = PushTarget::parse("http://pushgateway.monitoring:9091/", "rotor system").unwrap();
        assert_eq!(
            t.url().as_str(),
            "http://pushgateway.monitoring:9091/metrics/job/rotor/instance/rotor%20system"
        );
        let t = PushTarget::parse("https://gw.example/prefix", "rotor-system").unwrap();
        assert_eq!(
            t.url().as_str(),
            "https://gw.example/prefix/metrics/job/rotor/instance/rotor-system"
        );
    }

    #[test]
    fn a_url_without_http_is_refused() {
        for bad in ["pushgateway:9091", "ftp://gw/", "not a url"] {
            let e = PushTarget::parse(bad, "ns").unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
