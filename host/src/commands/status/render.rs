//! `rotor status`'s output: text for a person, JSON, and the Prometheus
//! text exposition for a textfile collector or a push.

use std::fmt::Write as _;

use super::model::{CertificateStatus, Status};
use super::{EXIT_IN_PROGRESS, EXIT_OK, StatusFormat};
use crate::linkerd::{CONTROL_PLANE_NS, TRUST_ROOTS};

/// What an exit code says, as the first line of the text shows it.
pub(super) fn state(exit_code: u8) -> &'static str {
    match exit_code {
        EXIT_IN_PROGRESS => "rotation in progress",
        EXIT_OK => "ok",
        _ => "needs attention",
    }
}

impl Status {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "status: {}", state(self.exit_code()));
        if let Some(r) = &self.rotation {
            if let Some(h) = &r.holder {
                let _ = writeln!(
                    out,
                    "  run by {} since {}",
                    h.holder,
                    h.since.map_or_else(|| "an unknown time".into(), rfc3339)
                );
            }
            let _ = writeln!(
                out,
                "  step {} of the rotation begun {}",
                r.step.as_deref().unwrap_or("unknown"),
                r.started_at
                    .map_or_else(|| "at an unknown time".into(), rfc3339)
            );
            for w in &r.waiting_for {
                let _ = writeln!(out, "  waiting for {w}");
            }
        }
        for a in &self.attention {
            let _ = writeln!(out, "  ! {a}");
        }
        let _ = writeln!(out, "\npreflight lint (anchor and issuer):");
        if self.lint.is_empty() {
            let _ = writeln!(out, "  nothing found");
        }
        for f in &self.lint {
            let _ = writeln!(out, "  {}: {} [{}]", f.severity, f.line, f.rule);
        }
        let _ = writeln!(out, "\ncertificates:");
        for c in &self.certificates {
            let _ = writeln!(
                out,
                "  {}/{}: {}{} revision {} age {} expires {} renews {}",
                c.namespace,
                c.name,
                if c.ready { "Ready" } else { "NOT READY" },
                if c.issuing { " (issuing)" } else { "" },
                c.revision
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into()),
                c.age_seconds
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
                c.not_after
                    .map(|t| format!("{} (in {})", rfc3339(t), human_duration(t - self.now)))
                    .unwrap_or_else(|| "-".into()),
                c.renewal_time.map(rfc3339).unwrap_or_else(|| "-".into()),
            );
        }
        let _ = writeln!(out, "\ntrust bundle {CONTROL_PLANE_NS}/{TRUST_ROOTS}:");
        match &self.bundle {
            Some(b) => {
                let _ = writeln!(out, "  sha256 {}", b.sha256);
                for a in &b.anchors {
                    let _ = writeln!(
                        out,
                        "  anchor {} sha256:{} expires {} (in {})",
                        a.subject,
                        a.fingerprint_sha256,
                        rfc3339(a.not_after),
                        human_duration(a.not_after - self.now)
                    );
                }
            }
            None => {
                let _ = writeln!(out, "  (missing)");
            }
        }
        let _ = writeln!(
            out,
            "\nmeshed proxies: {} ({} started with another bundle, {} the hash cannot tell: control plane or unannotated)",
            self.meshed_pods, self.stale_proxies, self.unverified_proxies
        );
        for w in &self.stale_workloads {
            let _ = writeln!(
                out,
                "  {} {}/{}: {} stale",
                w.kind, w.namespace, w.name, w.pods
            );
        }
        let _ = writeln!(
            out,
            "\nidentity: last IssuerUpdated {}, last IssuerUpdateSkipped {}",
            self.identity
                .last_issuer_updated
                .map(rfc3339)
                .unwrap_or_else(|| "never".into()),
            self.identity
                .last_issuer_update_skipped
                .map(rfc3339)
                .unwrap_or_else(|| "never".into()),
        );
        self.linkerd.render_text(&mut out);
        self.trust_manager.render_text(&mut out);
        out
    }

    /// Prometheus text exposition (for a textfile collector or a push).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let cert_labels = |c: &CertificateStatus| {
            format!(
                "{{namespace=\"{}\",name=\"{}\"}}",
                esc(&c.namespace),
                esc(&c.name)
            )
        };
        family(
            "rotor_certificate_ready",
            "1 when the Certificate is Ready for its current generation.",
            self.certificates
                .iter()
                .map(|c| (cert_labels(c), if c.ready { 1.0 } else { 0.0 }))
                .collect(),
        );
        family(
            "rotor_certificate_not_after_timestamp_seconds",
            "When the Certificate's current certificate expires.",
            self.certificates
                .iter()
                .filter_map(|c| c.not_after.map(|t| (cert_labels(c), t as f64)))
                .collect(),
        );
        family(
            "rotor_certificate_renewal_timestamp_seconds",
            "When cert-manager will renew the Certificate.",
            self.certificates
                .iter()
                .filter_map(|c| c.renewal_time.map(|t| (cert_labels(c), t as f64)))
                .collect(),
        );
        family(
            "rotor_trust_anchor_not_after_timestamp_seconds",
            "When each anchor in the trust bundle expires.",
            self.bundle
                .iter()
                .flat_map(|b| &b.anchors)
                .map(|a| {
                    (
                        format!(
                            "{{fingerprint_sha256=\"{}\",subject=\"{}\"}}",
                            a.fingerprint_sha256,
                            esc(&a.subject)
                        ),
                        a.not_after as f64,
                    )
                })
                .collect(),
        );
        family(
            "rotor_trust_bundle_anchors",
            "Anchors in the trust bundle.",
            vec![(
                String::new(),
                self.bundle.as_ref().map_or(0, |b| b.anchors.len()) as f64,
            )],
        );
        family(
            "rotor_meshed_proxies",
            "Meshed pods.",
            vec![(String::new(), f64::from(self.meshed_pods))],
        );
        family(
            "rotor_stale_proxies",
            "Meshed pods started with another trust bundle than the current one, per workload.",
            self.stale_workloads
                .iter()
                .map(|w| {
                    (
                        format!(
                            "{{kind=\"{}\",namespace=\"{}\",name=\"{}\"}}",
                            esc(&w.kind),
                            esc(&w.namespace),
                            esc(&w.name)
                        ),
                        f64::from(w.pods),
                    )
                })
                .collect(),
        );
        family(
            "rotor_identity_issuer_updated_timestamp_seconds",
            "The identity controller's last IssuerUpdated event.",
            self.identity
                .last_issuer_updated
                .map(|t| vec![(String::new(), t as f64)])
                .unwrap_or_default(),
        );
        family(
            "rotor_rotation_in_progress",
            "1 while a run holds the run lock.",
            vec![(
                String::new(),
                f64::from(u8::from(self.exit_code() == EXIT_IN_PROGRESS)),
            )],
        );
        family(
            "rotor_preflight_lint_findings",
            "The preflight lint's findings on the anchor and issuer, by rule and severity.",
            self.lint
                .iter()
                .map(|f| {
                    (
                        format!("{{rule=\"{}\",severity=\"{}\"}}", f.rule, f.severity),
                        1.0,
                    )
                })
                .collect(),
        );
        family(
            "rotor_status_attention",
            "Findings that need attention (0 when all is well).",
            vec![(String::new(), self.attention.len() as f64)],
        );
        out
    }

    pub fn render(&self, format: StatusFormat) -> String {
        match format {
            StatusFormat::Text => self.render_text(),
            StatusFormat::Json => {
                serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
                    + "\n"
            }
            StatusFormat::Prometheus => self.render_prometheus(),
        }
    }
}

pub(super) fn human_duration(secs: i64) -> String {
    let (sign, s) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    if s >= 2 * 86_400 {
        format!("{sign}{}d", s / 86_400)
    } else if s >= 3_600 {
        format!("{sign}{}h{}m", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{sign}{}m{}s", s / 60, s % 60)
    }
}

pub(super) fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}
