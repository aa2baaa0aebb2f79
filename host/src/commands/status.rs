//! `rotor status`: a read-only look at the rotation's state. Each
//! Certificate's age, expiry, renewal time and readiness; the anchors in the
//! trust bundle; meshed proxies still started with an older bundle; the
//! identity controller's last issuer reload; a rotation in progress (the
//! run lock's holder, the progress record's step) or one left half-done.
//! Exit codes: [`EXIT_OK`], [`EXIT_ATTENTION`], [`EXIT_IN_PROGRESS`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{
    ANCHOR_CERTIFICATE, CONTROL_PLANE_NS, IDENTITY, ISSUER_CERTIFICATE, MESHED_SELECTOR,
    TRUST_ROOT_SHA_ANNOTATION, TRUST_ROOTS, TRUST_ROOTS_KEY,
};
use crate::lock::Holder;
use crate::wit::{EventType, ObjectRef};

/// Nothing needs attention.
pub const EXIT_OK: u8 = 0;
/// Something needs a person: expiring, not Ready, stale proxies, a rotation
/// left half-done.
pub const EXIT_ATTENTION: u8 = 1;
/// A run holds the run lock: a rotation is in progress.
pub const EXIT_IN_PROGRESS: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
    Prometheus,
}

/// `rotor status`'s command line: the cluster, then what to show.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusCommand {
    #[command(flatten)]
    pub cluster: super::ClusterArgs,
    #[command(flatten)]
    pub status: StatusArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub output: StatusFormat,
    /// Flag an anchor (in the bundle or the anchor Certificate) expiring sooner.
    #[arg(long, default_value_t = 30)]
    pub anchor_warn_days: u32,
    /// Flag the identity issuer expiring sooner (it normally renews a day early).
    #[arg(long, default_value_t = 12)]
    pub issuer_warn_hours: u32,
    /// How long the identity controller may take to announce a new issuer.
    #[arg(long, default_value_t = 600)]
    pub reload_grace_seconds: u32,
}

impl Default for StatusArgs {
    fn default() -> Self {
        StatusArgs {
            output: StatusFormat::Text,
            anchor_warn_days: 30,
            issuer_warn_hours: 12,
            reload_grace_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateStatus {
    pub namespace: String,
    pub name: String,
    pub ready: bool,
    pub issuing: bool,
    pub revision: Option<u64>,
    pub age_seconds: Option<i64>,
    pub not_after: Option<i64>,
    pub renewal_time: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    pub subject: String,
    pub fingerprint_sha256: String,
    pub not_after: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    /// SHA-256 of `ca-bundle.crt`: what `linkerd.io/trust-root-sha256` holds.
    pub sha256: String,
    pub anchors: Vec<Anchor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleWorkload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub pods: u32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct IdentityReloads {
    pub last_issuer_updated: Option<i64>,
    pub last_issuer_update_skipped: Option<i64>,
}

/// A rotation under way (the run lock is held) or stopped half-way.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    /// The run lock's holder while a run is going on; `None` when no run
    /// holds it (the rotation stopped and waits for the next run).
    pub holder: Option<Holder>,
    /// The step the progress record says is running (or resumes next).
    pub step: Option<String>,
    /// When the rotation began, from the progress record.
    pub started_at: Option<i64>,
    /// What the cluster shows it waits on: issuances, rollouts.
    pub waiting_for: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub now: i64,
    /// Present while a rotation is in progress or left half-done.
    pub rotation: Option<Rotation>,
    pub certificates: Vec<CertificateStatus>,
    pub bundle: Option<Bundle>,
    /// Meshed proxies: pods carrying the mesh's control-plane label, in
    /// phase Running and not being deleted (starting and terminating pods
    /// of a rollout are not counted).
    pub meshed_pods: u32,
    /// Meshed pods whose roots the annotation cannot tell: the control
    /// plane's, whose `linkerd.io/trust-root-sha256` is the chart's
    /// install-time hash (their proxies read the ConfigMap at start), and
    /// pods without the annotation.
    pub unverified_proxies: u32,
    pub stale_proxies: u32,
    pub stale_workloads: Vec<StaleWorkload>,
    pub identity: IdentityReloads,
    /// What needs a person's attention; empty when all is well.
    pub attention: Vec<String>,
}

/// The anchors in a PEM bundle.
pub fn anchors(pem: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()).enumerate() {
        let block = block.map_err(|e| format!("PEM block {}: {e}", i + 1))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| format!("certificate {}: {e}", i + 1))?;
        out.push(Anchor {
            subject: cert.subject().to_string(),
            fingerprint_sha256: hex::encode(Sha256::digest(&block.contents)),
            not_after: cert.validity().not_after.timestamp(),
        });
    }
    Ok(out)
}

fn human_duration(secs: i64) -> String {
    let (sign, s) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    if s >= 2 * 86_400 {
        format!("{sign}{}d", s / 86_400)
    } else if s >= 3_600 {
        format!("{sign}{}h{}m", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{sign}{}m{}s", s / 60, s % 60)
    }
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// Read everything `rotor status` shows, with no run lock holder known.
pub async fn collect(cluster: &dyn Cluster, args: &StatusArgs) -> Result<Status, ClusterError> {
    collect_with(cluster, args, None).await
}

/// Read everything `rotor status` shows; `holder` holds the run lock, if
/// anyone does. Nothing is written.
pub async fn collect_with(
    cluster: &dyn Cluster,
    args: &StatusArgs,
    holder: Option<Holder>,
) -> Result<Status, ClusterError> {
    let now = cluster.now().await;
    let mut attention = Vec::new();
    let anchor_warn = i64::from(args.anchor_warn_days) * 86_400;
    let issuer_warn = i64::from(args.issuer_warn_hours) * 3_600;

    let certs = cluster.list_certificates(None).await?;
    let certificates: Vec<CertificateStatus> = certs
        .iter()
        .map(|c| CertificateStatus {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            ready: c.ready,
            issuing: c.issuing,
            revision: c.revision,
            age_seconds: c.not_before.map(|nb| now - nb),
            not_after: c.not_after,
            renewal_time: c.renewal_time,
        })
        .collect();
    for c in &certs {
        let id = (c.namespace.as_str(), c.name.as_str());
        if !c.ready {
            attention.push(format!(
                "certificate {}/{} is not Ready",
                c.namespace, c.name
            ));
        }
        let warn = if id == ANCHOR_CERTIFICATE {
            Some(anchor_warn)
        } else if id == ISSUER_CERTIFICATE {
            Some(issuer_warn)
        } else {
            None
        };
        if let (Some(warn), Some(na)) = (warn, c.not_after)
            && na - now < warn
        {
            attention.push(format!(
                "certificate {}/{} expires in {} (at {})",
                c.namespace,
                c.name,
                human_duration(na - now),
                rfc3339(na)
            ));
        }
    }

    let bundle = match cluster.read_config_map(CONTROL_PLANE_NS, TRUST_ROOTS).await {
        Ok(cm) => match cm.data.iter().find(|kv| kv.key == TRUST_ROOTS_KEY) {
            Some(kv) => {
                let anchors = anchors(&kv.value).unwrap_or_else(|e| {
                    attention.push(format!(
                        "{CONTROL_PLANE_NS}/{TRUST_ROOTS} {TRUST_ROOTS_KEY} does not parse: {e}"
                    ));
                    Vec::new()
                });
                for a in &anchors {
                    if a.not_after - now < anchor_warn {
                        attention.push(format!(
                            "trust anchor {} ({}) in the bundle expires in {}",
                            a.subject,
                            &a.fingerprint_sha256[..16.min(a.fingerprint_sha256.len())],
                            human_duration(a.not_after - now)
                        ));
                    }
                }
                Some(Bundle {
                    sha256: hex::encode(Sha256::digest(kv.value.as_bytes())),
                    anchors,
                })
            }
            None => {
                attention.push(format!(
                    "{CONTROL_PLANE_NS}/{TRUST_ROOTS} has no {TRUST_ROOTS_KEY}"
                ));
                None
            }
        },
        Err(ClusterError::NotFound(_)) => {
            attention.push(format!(
                "trust bundle ConfigMap {CONTROL_PLANE_NS}/{TRUST_ROOTS} not found"
            ));
            None
        }
        Err(e) => return Err(e),
    };

    let deleting = cluster.terminating_pods(None, MESHED_SELECTOR).await?;
    let pods: Vec<_> = cluster
        .list_pods(None, MESHED_SELECTOR)
        .await?
        .into_iter()
        .filter(|p| {
            p.phase == "Running" && !deleting.contains(&format!("{}/{}", p.namespace, p.name))
        })
        .collect();
    let mut stale: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    let mut unverified = 0u32;
    if let Some(b) = &bundle {
        for p in &pods {
            let root = p
                .annotations
                .iter()
                .find(|kv| kv.key == TRUST_ROOT_SHA_ANNOTATION)
                .map(|kv| kv.value.as_str())
                // Control-plane pods carry the chart's install-time hash,
                // not the roots they read from the ConfigMap at start.
                .filter(|_| p.namespace != CONTROL_PLANE_NS);
            let Some(root) = root else {
                unverified += 1;
                continue;
            };
            if root != b.sha256 {
                let key = match &p.owner {
                    Some(o) => (o.kind.clone(), o.namespace.clone(), o.name.clone()),
                    None => ("Pod".into(), p.namespace.clone(), p.name.clone()),
                };
                *stale.entry(key).or_default() += 1;
            }
        }
    }
    let stale_workloads: Vec<StaleWorkload> = stale
        .into_iter()
        .map(|((kind, namespace, name), pods)| StaleWorkload {
            kind,
            namespace,
            name,
            pods,
        })
        .collect();
    let stale_proxies: u32 = stale_workloads.iter().map(|w| w.pods).sum();
    // During a run the rollouts are under way: what it waits for, not a finding.
    if stale_proxies > 0 && holder.is_none() {
        attention.push(format!(
            "{stale_proxies} meshed proxies in {} workloads were started with another trust bundle: restart them",
            stale_workloads.len()
        ));
    }

    let identity_ref = ObjectRef {
        kind: "Deployment".into(),
        namespace: CONTROL_PLANE_NS.into(),
        name: IDENTITY.into(),
    };
    let events = cluster.list_events(&identity_ref, None).await?;
    let last = |reason: &str| {
        events
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.last_time)
            .max()
    };
    let identity = IdentityReloads {
        last_issuer_updated: last("IssuerUpdated"),
        last_issuer_update_skipped: last("IssuerUpdateSkipped"),
    };
    if let Some(skipped) = identity.last_issuer_update_skipped
        && identity.last_issuer_updated.is_none_or(|u| skipped > u)
    {
        let msg = events
            .iter()
            .rev()
            .find(|e| e.reason == "IssuerUpdateSkipped" && e.type_ == EventType::Warning)
            .map(|e| e.message.clone())
            .unwrap_or_default();
        attention.push(format!(
                "the identity controller skipped the latest issuer ({msg}); it still signs with the old one"
            ));
    }
    let issuer = certs
        .iter()
        .find(|c| (c.namespace.as_str(), c.name.as_str()) == ISSUER_CERTIFICATE);
    if let Some(issued) = issuer.and_then(|c| c.not_before) {
        let reloaded = identity.last_issuer_updated.is_some_and(|u| u >= issued);
        if !reloaded && now - issued > i64::from(args.reload_grace_seconds) {
            attention.push(format!(
                "the identity issuer was re-issued at {} but {IDENTITY} has not reported IssuerUpdated since (missed reload: restart {IDENTITY})",
                rfc3339(issued)
            ));
        }
    }

    let record = cluster.load_progress().await?;
    let rotation = rotation(holder, record.as_deref(), &certs, stale_proxies);
    if let Some(r) = rotation.as_ref().filter(|r| r.holder.is_none()) {
        attention.push(format!(
            "a rotation stopped half-done at step {} (begun {}): `rotor run` resumes it",
            r.step.as_deref().unwrap_or("unknown"),
            r.started_at
                .map_or_else(|| "at an unknown time".into(), rfc3339)
        ));
    }
    if rotation.as_ref().is_none_or(|r| r.holder.is_none()) {
        for c in certs.iter().filter(|c| c.issuing) {
            attention.push(format!(
                "certificate {}/{} has Issuing=True with no rotation running: an issuance was requested and has not finished",
                c.namespace, c.name
            ));
        }
        if let Some(b) = bundle.as_ref().filter(|b| b.anchors.len() > 1) {
            attention.push(format!(
                "the trust bundle holds {} anchors with no rotation running: the old anchor was never dropped",
                b.anchors.len()
            ));
        }
    }

    Ok(Status {
        now,
        rotation,
        certificates,
        bundle,
        meshed_pods: pods.len() as u32,
        unverified_proxies: unverified,
        stale_proxies,
        stale_workloads,
        identity,
        attention,
    })
}

/// The rotation the lock and the progress record show, if any, and what
/// it waits on as the cluster shows it.
fn rotation(
    holder: Option<Holder>,
    record: Option<&str>,
    certs: &[crate::wit::Certificate],
    stale_proxies: u32,
) -> Option<Rotation> {
    if holder.is_none() && record.is_none() {
        return None;
    }
    // The record is the policy's own; the default policy's names its
    // running step `next` and its start `startedAt`.
    let record: Option<serde_json::Value> = record.and_then(|r| serde_json::from_str(r).ok());
    let field = |key: &str| record.as_ref().and_then(|r| r.get(key).cloned());
    let mut waiting_for: Vec<String> = certs
        .iter()
        .filter(|c| c.issuing)
        .map(|c| format!("cert-manager to issue {}/{}", c.namespace, c.name))
        .collect();
    if stale_proxies > 0 {
        waiting_for.push(format!(
            "rollouts: {stale_proxies} meshed proxies still started with another trust bundle"
        ));
    }
    Some(Rotation {
        holder,
        step: field("next").and_then(|v| v.as_str().map(str::to_string)),
        started_at: field("startedAt").and_then(|v| v.as_i64()),
        waiting_for,
    })
}

impl Status {
    /// The exit code: in progress, then attention, then ok.
    pub fn exit_code(&self) -> u8 {
        if self.rotation.as_ref().is_some_and(|r| r.holder.is_some()) {
            EXIT_IN_PROGRESS
        } else if self.attention.is_empty() {
            EXIT_OK
        } else {
            EXIT_ATTENTION
        }
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            match self.exit_code() {
                EXIT_IN_PROGRESS => "status: rotation in progress",
                EXIT_OK => "status: ok",
                _ => "status: needs attention",
            }
        );
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

/// Collect (no run lock holder known) and render, with the exit code.
pub async fn status(
    cluster: Arc<dyn Cluster>,
    args: &StatusArgs,
) -> Result<(String, i32), ClusterError> {
    let s = collect(cluster.as_ref(), args).await?;
    Ok((s.render(args.output), i32::from(s.exit_code())))
}

/// The command: connect, read the run lock, collect, print; the exit code
/// says ok, attention or rotation in progress.
pub async fn run(args: StatusCommand) -> Result<std::process::ExitCode, super::CommandError> {
    let kube = args.cluster.connect().await?;
    let holder = crate::lock::current_holder(
        kube.client().clone(),
        kube.namespace(),
        crate::cluster::kube::RetryPolicy::default(),
    )
    .await
    .map_err(super::KubeCommandError::from)?;
    let s = collect_with(&kube, &args.status, holder)
        .await
        .map_err(|source| super::KubeCommandError::Cluster {
            what: "reading the rotation's state",
            source,
        })?;
    print!("{}", s.render(args.status.output));
    Ok(std::process::ExitCode::from(s.exit_code()))
}
