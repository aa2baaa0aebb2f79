//! The Linkerd rotation: each step, the gate after it, and the deadline on
//! the gate. The default policy runs it as is; a site policy changes the
//! parts a [`Site`] names (when to stop, how the data plane is staged)
//! without copying the steps and their gates.

pub mod config;
pub mod plan;
mod site;

pub use config::{Config, ConfigError, Deadlines, Mode, ObjectName};
pub use plan::Step;
pub use site::{Default as DefaultSite, Site, SiteConfig, Stage, Target};

use site::plan_stages;

use crate::bundle::{self, Bundle, Want};
use crate::certs::{self, Named};
use crate::fingerprint::short;
use crate::identity;
use crate::mesh::{self, Mesh, SeenPod, WorkloadId, is_meshed, pod_name, stale_roots};
use crate::pods::PodSummary;
use crate::restart::{self, WaveOptions};
use crate::workloads::{self, Workload};
use crate::{
    CallContext, KeyValue, RotorError, Summary, WorkloadKind, clock, context, record, step,
};

use plan::{AnchorFacts, Record, Start};

/// How long rotor lets a change of the trust bundle settle before it
/// restarts a control-plane pod. Pod start times have a resolution of one
/// second, and a kubelet's copy of the ConfigMap may trail the API server
/// by a moment: a pod started in the second of the change (or the next)
/// may have mounted the old content, and the proxy injector stamps what it
/// mounted into every pod it injects.
const BUNDLE_SETTLE_SECONDS: u32 = 2;

/// One run of the policy.
struct Run<'s> {
    cfg: Config,
    site: &'s dyn Site,
    dry_run: bool,
    rec: Record,
    resumed_at: Option<Step>,
    restarted: u64,
    pods_deleted: u64,
    notes: Vec<KeyValue>,
}

/// Run the default policy's rotation (the JSON configuration handed to `run`)
/// from wherever the cluster and the record say it stands.
pub fn run(config_text: &str) -> Result<Summary, RotorError> {
    let cfg = Config::parse(config_text).map_err(|e| RotorError::Config(e.to_string()))?;
    run_site(cfg, &DefaultSite)
}

/// The policy's error for the host, logged first so the run's log says why
/// the rotation stopped: `run(..).map_err(rotation::stopped)`.
pub fn stopped(e: RotorError) -> crate::Error {
    crate::error("rotation stopped", &[("error", &e.to_string())]);
    crate::Error::from(e)
}

/// Run the rotation with a site's choices (see [`Site`]).
pub fn run_site(cfg: Config, site: &dyn Site) -> Result<Summary, RotorError> {
    let dry_run = context::dry_run();
    let mut run = step("preflight", || preflight(cfg, site, dry_run))?;
    if run.dry_run {
        crate::info(
            "dry run: mutations are recorded, gates that need them are not waited on",
            &[],
        );
    }
    while run.rec.next != Step::Done {
        let current = run.rec.next;
        if let Some(reason) = site.hold(current.name())? {
            return run.pause(current, reason);
        }
        match current {
            Step::RenewAnchor => step(current.name(), || run.renew_anchor())?,
            Step::BundleHoldsBoth => step(current.name(), || run.bundle_holds_both())?,
            Step::TrustNewAnchor => run.trust_new_anchor()?,
            Step::RenewIssuer => step(current.name(), || run.renew_issuer())?,
            Step::AdoptNewIssuer => run.adopt_new_issuer()?,
            Step::RetireOldAnchor => step(current.name(), || run.retire_old_anchor())?,
            Step::BundleHoldsOnlyNew => step(current.name(), || run.bundle_holds_only_new())?,
            Step::DropOldAnchor => run.drop_old_anchor()?,
            Step::Done => {}
        }
        run.rec.next = current.next(run.cfg.mode);
        // The last step is not recorded as done: a run killed before the
        // record is cleared resumes there (a no-op) instead of starting anew.
        if run.rec.next != Step::Done {
            run.save()?;
        }
    }
    if !run.dry_run {
        record::clear()?;
    }
    Ok(run.summary(None))
}

fn anchor_secret(cfg: &Config) -> Result<Named, RotorError> {
    let cert = certs::get(&cfg.trust_anchor.named())?;
    Ok(Named::new(&cert.namespace, &cert.secret_name))
}

/// Refuse when cert-manager would renew `cert` on its own within `margin` s.
fn check_no_race(
    cert: &crate::certificates::Certificate,
    matters: bool,
    now: i64,
    margin: u32,
) -> Result<(), RotorError> {
    let soon = |t: &i64| matters && !cert.renewal_disabled && *t <= now + i64::from(margin);
    match cert.renewal_time.filter(soon) {
        Some(at) => Err(RotorError::State(format!(
            "certificate {}/{} renews on its own at {at} ({} s from now), within the {margin} s \
             this rotation may take: run after that renewal, or disable automatic renewal \
             (spec.renewal.policy: Disabled)",
            cert.namespace,
            cert.name,
            at - now
        ))),
        None => Ok(()),
    }
}

/// The previous anchor's fingerprint (`None`: the Secret is missing). Between
/// rotations, when it equals the anchor, a missing previous anchor is created
/// and one holding a key is rewritten, both as a certificate-only copy of the
/// anchor: the bundle reads the same certificate from the anchor meanwhile,
/// so it never changes. Mid-rotation it is left for retire-old-anchor.
fn previous_anchor(
    cfg: &Config,
    anchor_secret: &Named,
    anchor: &str,
    rotating: bool,
) -> Result<Option<String>, RotorError> {
    let to = cfg.previous_anchor_secret.named();
    let bootstrap = |why: &str| {
        certs::copy_certificate(anchor_secret, &to).map_err(|e| {
            RotorError::State(format!(
                "secret {to} {why}; rotor could not write it as a copy of {anchor_secret}'s \
                 certificate (grants.writeSecrets and the write-secret verb must allow {to}): {e}"
            ))
        })
    };
    let Some(existing) = certs::read_optional_secret(&to)? else {
        if rotating {
            return Ok(None);
        }
        bootstrap("is missing")?;
        crate::info(
            "created the previous anchor as a certificate-only copy of the anchor",
            &[("secret", &to.to_string())],
        );
        return Ok(Some(anchor.to_string()));
    };
    let pem = certs::secret_text(&existing, "tls.crt")?;
    let previous = certs::pem_fingerprint(&pem, &format!("secret {to} tls.crt"))?;
    if !rotating && previous == anchor && !certs::is_certificate_only(&existing) {
        bootstrap("holds more than the anchor's certificate")?;
        crate::info(
            "rewrote the previous anchor as a certificate-only copy (no private key)",
            &[("secret", &to.to_string())],
        );
    }
    Ok(Some(previous))
}

fn preflight(cfg: Config, site: &dyn Site, dry_run: bool) -> Result<(Run<'_>, String), RotorError> {
    let anchor_cert = certs::get(&cfg.trust_anchor.named())?;
    let issuer_cert = certs::get(&cfg.identity_issuer.named())?;
    let anchor_named = anchor_secret(&cfg)?;
    let (_, anchor) = certs::secret_certificate(&anchor_named)?;
    let saved: Option<Record> = record::load()?;
    let rotating = saved.as_ref().is_some_and(|r| r.next != Step::Done);
    let previous = previous_anchor(&cfg, &anchor_named, &anchor, rotating)?;
    let start = plan::decide(
        cfg.mode,
        saved,
        &AnchorFacts {
            anchor: anchor.clone(),
            previous,
        },
    )
    .map_err(RotorError::State)?;
    let now = clock::now();
    // An automatic renewal during the run would sign with an anchor not every
    // proxy trusts yet (or add a third anchor): refuse to start into one.
    let issuer_pending = match &start {
        Start::Fresh => true,
        Start::Resume(rec) => rec.issuer_requested_at.is_none(),
    };
    let racing = [
        (&anchor_cert, true),
        (&issuer_cert, cfg.mode == Mode::Full && issuer_pending),
    ];
    for (cert, matters) in racing {
        check_no_race(cert, matters, now, cfg.renewal_margin_seconds)?;
    }
    let (rec, resumed_at, detail) = match start {
        Start::Resume(rec) => {
            let detail = format!(
                "resuming the {} rotation begun at {} at step {}",
                plan::mode_name(rec.mode),
                rec.started_at,
                rec.next.name()
            );
            let at = rec.next;
            (*rec, Some(at), detail)
        }
        Start::Fresh => {
            for cert in [&anchor_cert, &issuer_cert] {
                if !cert.ready {
                    return Err(RotorError::State(format!(
                        "certificate {}/{} is not Ready for its current generation: fix it before rotating",
                        cert.namespace, cert.name
                    )));
                }
            }
            let mesh = mesh::discover(&cfg.control_plane_namespace)?;
            let failing = mesh::failing_rollouts(&mesh)?;
            if !failing.is_empty() {
                return Err(RotorError::Blocked {
                    reason: "rollouts are already failing; fix them before rotating".into(),
                    items: failing,
                });
            }
            if cfg.mode == Mode::Full {
                let fixed = mesh.pre_injected(&cfg.control_plane_namespace);
                if !fixed.is_empty() {
                    return Err(RotorError::Blocked {
                        reason: "workloads injected ahead of time keep the trust roots written \
                                 in their pod template, so no restart gives them the new anchor; \
                                 re-inject them from the new bundle (or let the injector do it), \
                                 then run again"
                            .into(),
                        items: fixed,
                    });
                }
                let stuck = mesh.unrestartable();
                if !stuck.is_empty() {
                    return Err(RotorError::Blocked {
                        reason: "meshed proxies that no workload restart reaches would lose \
                                 traffic during the rotation; delete, re-own or unpause them"
                            .into(),
                        items: stuck,
                    });
                }
            }
            let baseline = certs::Baseline {
                revision: anchor_cert.revision,
                fingerprint: anchor.clone(),
            };
            let detail = format!(
                "{} rotation; anchor {}; {} meshed workload(s)",
                plan::mode_name(cfg.mode),
                short(&anchor),
                mesh.workloads.len()
            );
            (Record::fresh(cfg.mode, now, baseline), None, detail)
        }
    };
    if !dry_run {
        record::save(&rec)?;
    }
    let run = Run {
        cfg,
        site,
        dry_run,
        rec,
        resumed_at,
        restarted: 0,
        pods_deleted: 0,
        notes: vec![],
    };
    Ok((run, detail))
}

/// Which part of the mesh a restart group covers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    ControlPlane,
    Extensions,
    DataPlane,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::ControlPlane => "control-plane",
            Group::Extensions => "extensions",
            Group::DataPlane => "data-plane",
        }
    }
}

/// The workloads of `group`, in restart order, that rotor may restart.
fn group_workloads(cfg: &Config, mesh: Mesh, group: Group) -> Vec<Target> {
    let in_group = |ns: &str| match group {
        Group::ControlPlane => ns == cfg.control_plane_namespace,
        Group::Extensions => {
            ns != cfg.control_plane_namespace && cfg.extensions.iter().any(|e| e == ns)
        }
        Group::DataPlane => {
            ns != cfg.control_plane_namespace && !cfg.extensions.iter().any(|e| e == ns)
        }
    };
    let mut out: Vec<_> = mesh
        .workloads
        .into_iter()
        .filter(|(id, _)| in_group(&id.namespace) && cfg.restarts(&id.namespace, &id.name))
        .map(|(id, w)| Target {
            id,
            workload: w.workload,
            pods: w.pods,
        })
        .collect();
    if group == Group::Extensions {
        // In the configured order of the extensions.
        out.sort_by_key(|t| cfg.extensions.iter().position(|e| *e == t.id.namespace));
    }
    out
}

/// Why a pod needs a restart in a round, if it does.
type Stale<'a> = &'a dyn Fn(&PodSummary) -> Option<String>;

fn summarise(ids: &[WorkloadId]) -> String {
    let shown: Vec<String> = ids.iter().take(10).map(ToString::to_string).collect();
    let more = ids.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl Run<'_> {
    fn wave_options(&self, gate: String) -> WaveOptions {
        WaveOptions {
            parallelism: self.cfg.parallelism,
            rollout_timeout: self.cfg.deadlines.rollout_seconds,
            pod_timeout: self.cfg.deadlines.pod_seconds,
            dry_run: self.dry_run,
            gate,
        }
    }

    /// Save the progress record; a dry run keeps none (it changes nothing
    /// a later run could resume from).
    fn save(&self) -> Result<(), RotorError> {
        if self.dry_run {
            return Ok(());
        }
        record::save(&self.rec)
    }

    fn new_anchor(&self) -> Result<String, RotorError> {
        self.rec.new_anchor.clone().ok_or_else(|| {
            RotorError::State(
                "the new anchor is not known yet (the progress record lacks it)".into(),
            )
        })
    }

    fn renew_anchor(&mut self) -> Result<((), String), RotorError> {
        let cert = self.cfg.trust_anchor.named();
        let (_, now_fp) = certs::secret_certificate(&anchor_secret(&self.cfg)?)?;
        let before = self.rec.anchor_before.clone();
        if now_fp == before.fingerprint {
            if certs::get(&cert)?.issuing {
                crate::info(
                    "anchor is already being issued; waiting for it",
                    &[("certificate", &cert.to_string())],
                );
            } else {
                certs::request_renewal(&cert)?;
            }
            if self.dry_run {
                return Ok((
                    (),
                    format!(
                        "would renew {cert} and wait for a revision above {}",
                        before.revision.unwrap_or(0)
                    ),
                ));
            }
        }
        let renewed = certs::wait_renewed(
            &cert,
            &before,
            "anchor-renewed",
            self.cfg.deadlines.renewal_seconds,
        )?;
        self.rec.new_anchor = Some(renewed.fingerprint.clone());
        Ok((
            (),
            format!(
                "anchor {} -> {} (revision {})",
                short(&before.fingerprint),
                short(&renewed.fingerprint),
                renewed.revision
            ),
        ))
    }

    fn bundle_holds_both(&mut self) -> Result<((), String), RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        if self.dry_run {
            return Ok((
                (),
                format!("would wait until {cm} holds the old and the new anchor"),
            ));
        }
        let want = Want::Contains(vec![
            self.rec.anchor_before.fingerprint.clone(),
            self.new_anchor()?,
        ]);
        let b = bundle::wait_until(
            &cm,
            &want,
            "bundle-holds-new-anchor",
            self.cfg.deadlines.bundle_seconds,
        )?;
        self.rec.pods_at_bundle = Some(self.control_plane_pods_now()?);
        Ok((
            (),
            format!(
                "{cm} holds {} anchor(s), hash {}",
                b.anchors.len(),
                short(&b.hash)
            ),
        ))
    }

    /// Read the bundle and check it holds `want` now (no waiting).
    fn bundle_now(&self, want: &Want) -> Result<Bundle, RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        let b = bundle::read(&cm)?;
        if !self.dry_run
            && let crate::gate::Check::Pending(saw) | crate::gate::Check::Fail(saw) =
                bundle::check(&cm, &b.anchors, want)
        {
            return Err(RotorError::State(format!(
                "the trust bundle changed underneath the rotation: {saw}"
            )));
        }
        Ok(b)
    }

    /// Restart the control plane, then the extensions, then the data plane
    /// (in the site's stages), each workload only if one of its pods is
    /// stale; gate on rollouts and on every pod of the restarted workloads
    /// being fresh and Ready before the next group or stage.
    fn restart_round(&mut self, round: Step, stale: Stale<'_>) -> Result<(), RotorError> {
        for group in [Group::ControlPlane, Group::Extensions, Group::DataPlane] {
            // Discover again for each group, and only the group's
            // namespaces where they are known: pods come and go while the
            // earlier groups restart.
            let cp = self.cfg.control_plane_namespace.as_str();
            let mesh = match group {
                Group::ControlPlane => mesh::discover_in(cp, &[cp])?,
                Group::Extensions => {
                    let ext: Vec<&str> = self.cfg.extensions.iter().map(String::as_str).collect();
                    mesh::discover_in(cp, &ext)?
                }
                Group::DataPlane => mesh::discover(cp)?,
            };
            let all = group_workloads(&self.cfg, mesh, group);
            let stages = match group {
                Group::DataPlane => plan_stages(self.site, all)?,
                _ => vec![Stage {
                    name: String::new(),
                    targets: all,
                }],
            };
            let base = format!("{}/{}", round.name(), group.name());
            if stages.is_empty() || stages.iter().all(|s| s.targets.is_empty()) {
                step(&base, || {
                    Ok(((), "no meshed workloads in this group".to_string()))
                })?;
                continue;
            }
            for (i, stage) in stages.iter().enumerate() {
                if i > 0 {
                    self.site.between_stages(&stages[i - 1], stage)?;
                }
                let name = if stage.name.is_empty() {
                    base.clone()
                } else {
                    format!("{base}/{}", stage.name)
                };
                let gate = format!("{}-{}", round.name(), group.name());
                step(&name, || self.restart_stale(&gate, &stage.targets, stale))?;
            }
        }
        Ok(())
    }

    /// Restart the targets with a stale pod, in waves, and wait until every
    /// meshed pod of them is fresh and Ready.
    fn restart_stale(
        &mut self,
        gate: &str,
        all: &[Target],
        stale: Stale<'_>,
    ) -> Result<((), String), RotorError> {
        let targets: Vec<&Target> = all
            .iter()
            .filter(|t| self.dry_run || t.pods.iter().any(|p| stale(p).is_some()))
            .collect();
        let ids: Vec<WorkloadId> = targets.iter().map(|t| t.id.clone()).collect();
        if ids.is_empty() {
            let detail = format!(
                "nothing to restart: {} workload(s) already current",
                all.len()
            );
            return Ok(((), detail));
        }
        let workloads: Vec<Workload> = targets.iter().map(|t| t.workload.clone()).collect();
        let done =
            restart::restart_in_waves(&workloads, &self.wave_options(format!("{gate}-rollouts")))?;
        self.restarted += done.len() as u64;
        self.pods_deleted += done.iter().map(|r| r.pods_deleted as u64).sum::<u64>();
        self.rec.restarts += done.len() as u64;
        self.save()?;
        if self.dry_run {
            return Ok((
                (),
                format!(
                    "would restart {} of {} workload(s): {}",
                    ids.len(),
                    all.len(),
                    summarise(&ids)
                ),
            ));
        }
        let problem = |p: &PodSummary| {
            if !is_meshed(p) {
                None
            } else if let Some(why) = stale(p) {
                Some(why)
            } else if !p.ready {
                Some("not Ready".to_string())
            } else {
                None
            }
        };
        let pods = restart::wait_pods(
            &workloads,
            &mesh::mesh_selector(&self.cfg.control_plane_namespace),
            &format!("{gate}-pods"),
            self.cfg.deadlines.pods_seconds,
            &problem,
        )?;
        Ok((
            (),
            format!(
                "restarted {} of {} workload(s), {pods} pod(s) checked: {}",
                ids.len(),
                all.len(),
                summarise(&ids)
            ),
        ))
    }

    fn trust_new_anchor(&mut self) -> Result<(), RotorError> {
        let want = Want::Contains(match &self.rec.new_anchor {
            Some(new) => vec![self.rec.anchor_before.fingerprint.clone(), new.clone()],
            None => vec![],
        });
        let bundle = self.bundle_now(&want)?;
        let seen = self.pods_at_bundle()?;
        let stale = stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen);
        self.restart_round(Step::TrustNewAnchor, &stale)
    }

    /// The control-plane pods that ran when the bundle was seen as it is
    /// now. A record from before rotor kept them (or a dry run, which does
    /// not wait) takes the pods running now, which may restart the control
    /// plane once more but never too few.
    fn pods_at_bundle(&mut self) -> Result<Vec<SeenPod>, RotorError> {
        if let Some(seen) = &self.rec.pods_at_bundle {
            return Ok(seen.clone());
        }
        let seen = self.control_plane_pods_now()?;
        self.rec.pods_at_bundle = Some(seen.clone());
        self.save()?;
        Ok(seen)
    }

    /// The control-plane pods running now, the bundle as it is; then
    /// [`BUNDLE_SETTLE_SECONDS`] pass before rotor restarts any of them.
    fn control_plane_pods_now(&self) -> Result<Vec<SeenPod>, RotorError> {
        let seen = mesh::control_plane_pods(&self.cfg.control_plane_namespace)?;
        if !self.dry_run {
            clock::wait(BUNDLE_SETTLE_SECONDS).call(|| "let the bundle change settle")?;
        }
        Ok(seen)
    }

    fn renew_issuer(&mut self) -> Result<((), String), RotorError> {
        let cert = self.cfg.identity_issuer.named();
        let anchor_secret = anchor_secret(&self.cfg)?;
        if self.cfg.mode == Mode::Full && !self.dry_run {
            let want = Want::Contains(vec![
                self.rec.anchor_before.fingerprint.clone(),
                self.new_anchor()?,
            ]);
            let bundle = self.bundle_now(&want)?;
            let seen = self.pods_at_bundle()?;
            let n = mesh::wait_every_pod(
                &self.cfg.control_plane_namespace,
                "mesh-trusts-new-anchor",
                self.cfg.deadlines.pods_seconds,
                &stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen),
            )?;
            crate::info(
                "every meshed proxy trusts the new anchor",
                &[("pods", &n.to_string())],
            );
        }
        let issuer_cert = certs::get(&cert)?;
        let issuer_secret = Named::new(&issuer_cert.namespace, &issuer_cert.secret_name);
        let (_, now_fp) = certs::secret_certificate(&issuer_secret)?;
        let before = match &self.rec.issuer_before {
            Some(b) => b.clone(),
            None => {
                let b = certs::Baseline {
                    revision: issuer_cert.revision,
                    fingerprint: now_fp.clone(),
                };
                self.rec.issuer_before = Some(b.clone());
                b
            }
        };
        if now_fp == before.fingerprint {
            if self.rec.issuer_requested_at.is_none() {
                self.rec.issuer_requested_at = Some(clock::now());
                self.save()?;
            }
            if !issuer_cert.issuing {
                certs::request_renewal(&cert)?;
            }
            if self.dry_run {
                return Ok((
                    (),
                    format!(
                        "would renew {cert}, check it is signed by the anchor, and wait for identity's {}",
                        identity::ISSUER_UPDATED
                    ),
                ));
            }
        }
        let renewed = certs::wait_renewed(
            &cert,
            &before,
            "issuer-renewed",
            self.cfg.deadlines.renewal_seconds,
        )?;
        self.rec.new_issuer = Some(renewed.fingerprint.clone());
        if self.rec.issuer_renewed_at.is_none() {
            self.rec.issuer_renewed_at = Some(clock::now());
        }
        self.save()?;

        let (anchor_pem, anchor_fp) = certs::secret_certificate(&anchor_secret)?;
        if let Some(new) = &self.rec.new_anchor
            && *new != anchor_fp
        {
            return Err(RotorError::State(format!(
                "the anchor changed during the rotation: expected {}, found {}",
                short(new),
                short(&anchor_fp)
            )));
        }
        let (issuer_pem, _) = certs::secret_certificate(&issuer_secret)?;
        let signed = crate::x509::verify_signed_by(&issuer_pem, &anchor_pem)
            .call(|| format!("verify {issuer_secret} against {anchor_secret}"))?;
        if !signed {
            return Err(RotorError::State(format!(
                "gate issuer-signed-by-anchor: the new issuer {} is not signed by the anchor {}: \
                 check the ClusterIssuer's ca.secretName",
                short(&renewed.fingerprint),
                short(&anchor_fp)
            )));
        }
        let reloaded_at = match self.rec.issuer_reloaded_at {
            Some(at) => at,
            None => {
                let at = self.wait_reload()?;
                self.rec.issuer_reloaded_at = Some(at);
                self.save()?;
                at
            }
        };
        Ok((
            (),
            format!(
                "issuer {} -> {} (revision {}), signed by anchor {}, identity reloaded at {reloaded_at}",
                short(&before.fingerprint),
                short(&renewed.fingerprint),
                renewed.revision,
                short(&anchor_fp)
            ),
        ))
    }

    /// Gate issuer-reloaded: every identity replica's `IssuerUpdated` after
    /// the renewal request. If identity missed the reload, restart it (it
    /// loads the issuer at start and crash-loops on one that does not
    /// verify) and check again.
    fn wait_reload(&mut self) -> Result<i64, RotorError> {
        let identity = identity::identity_ref(
            &self.cfg.control_plane_namespace,
            &self.cfg.identity_deployment,
        );
        let since = self.rec.issuer_requested_at.unwrap_or(self.rec.started_at);
        let renewed_at = self.rec.issuer_renewed_at.unwrap_or_else(clock::now);
        match self.site.issuer_reloaded(
            &identity,
            since,
            renewed_at,
            self.cfg.deadlines.issuer_reload_seconds,
        ) {
            Ok(at) => Ok(at),
            Err(RotorError::Gate(g)) if g.timed_out => {
                crate::warn(
                    "identity did not report the issuer reload; restarting it",
                    &[("gate", &g.to_string())],
                );
                let w = workloads::get_workload(
                    WorkloadKind::Deployment,
                    &identity.namespace,
                    &identity.name,
                )
                .call(|| format!("get deployment {}/{}", identity.namespace, identity.name))?;
                let done = restart::restart_in_waves(
                    std::slice::from_ref(&w),
                    &self.wave_options("identity-restarted".into()),
                )?;
                self.restarted += done.len() as u64;
                self.rec.restarts += done.len() as u64;
                let restarted_at = done.first().map_or_else(clock::now, |r| r.at);
                if let Some(message) = identity::skipped_since(&identity, restarted_at)? {
                    return Err(RotorError::State(format!(
                        "gate issuer-reloaded: identity rejected the new issuer after a restart: {message}"
                    )));
                }
                // The restarted identity is Ready, so it runs the new issuer.
                self.note(
                    "identityRestarted",
                    "identity missed the issuer reload and was restarted".into(),
                );
                Ok(clock::now())
            }
            Err(e) => Err(e),
        }
    }

    fn adopt_new_issuer(&mut self) -> Result<(), RotorError> {
        let want = Want::Contains(match &self.rec.new_anchor {
            Some(new) => vec![self.rec.anchor_before.fingerprint.clone(), new.clone()],
            None => vec![],
        });
        let bundle = self.bundle_now(&want)?;
        let reloaded_at = self.rec.issuer_reloaded_at.unwrap_or(i64::MAX);
        let seen = self.pods_at_bundle()?;
        let hash = stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen);
        let stale = move |p: &PodSummary| {
            if p.start_time.is_none_or(|t| t <= reloaded_at) {
                Some(format!("started before the issuer reload at {reloaded_at}"))
            } else {
                hash(p)
            }
        };
        self.restart_round(Step::AdoptNewIssuer, &stale)
    }

    /// Everything that would still need the old anchor once it is gone.
    fn old_anchor_users(&self) -> Result<Vec<String>, RotorError> {
        let mesh = mesh::discover(&self.cfg.control_plane_namespace)?;
        let mut users = mesh.unrestartable();
        users.extend(
            mesh::failing_rollouts(&mesh)?
                .into_iter()
                .map(|f| format!("rollout failed: {f}")),
        );
        if let Some(reloaded_at) = self.rec.issuer_reloaded_at {
            users.extend(
                mesh.all_pods()
                    .filter(|p| p.start_time.is_none_or(|t| t <= reloaded_at))
                    .map(|p| {
                        format!(
                            "pod {} (started before the issuer reload at {reloaded_at})",
                            pod_name(p)
                        )
                    }),
            );
        }
        users.sort();
        users.dedup();
        Ok(users)
    }

    fn retire_old_anchor(&mut self) -> Result<((), String), RotorError> {
        let from = anchor_secret(&self.cfg)?;
        let to = self.cfg.previous_anchor_secret.named();
        // Missing: a replacement (delete, then create) was cut short.
        if let Some(existing) = certs::read_optional_secret(&to)? {
            let pem = certs::secret_text(&existing, "tls.crt")?;
            let previous = certs::pem_fingerprint(&pem, &format!("secret {to} tls.crt"))?;
            if Some(&previous) == self.rec.new_anchor.as_ref()
                && certs::is_certificate_only(&existing)
            {
                return Ok(((), format!("{to} already holds the new anchor")));
            }
        }
        let users = self.old_anchor_users()?;
        if !users.is_empty() {
            let reason = "the old anchor is still needed by meshed proxies; restart or remove them, then run again";
            if !self.dry_run {
                return Err(RotorError::Blocked {
                    reason: reason.into(),
                    items: users,
                });
            }
            crate::warn(
                &format!("dry run: a real run would stop here: {reason}"),
                &[("items", &users.join(", "))],
            );
        }
        let (_, anchor) = certs::secret_certificate(&from)?;
        if !self.dry_run && Some(&anchor) != self.rec.new_anchor.as_ref() {
            return Err(RotorError::State(format!(
                "{from} holds {} but the rotation renewed it to {}: it changed outside rotor",
                short(&anchor),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?")
            )));
        }
        certs::copy_certificate(&from, &to)?;
        let verb = if self.dry_run { "would copy" } else { "copied" };
        Ok((
            (),
            format!("{verb} the certificate of {from} to {to} (tls.crt only, no key)"),
        ))
    }

    fn bundle_holds_only_new(&mut self) -> Result<((), String), RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        if self.dry_run {
            return Ok((
                (),
                format!("would wait until {cm} holds only the new anchor"),
            ));
        }
        let want = Want::Exactly(vec![self.new_anchor()?]);
        let b = bundle::wait_until(
            &cm,
            &want,
            "bundle-drops-old-anchor",
            self.cfg.deadlines.bundle_seconds,
        )?;
        self.rec.pods_at_bundle = Some(self.control_plane_pods_now()?);
        Ok((
            (),
            format!(
                "{cm} holds only {}, hash {}",
                short(&b.anchors[0]),
                short(&b.hash)
            ),
        ))
    }

    fn drop_old_anchor(&mut self) -> Result<(), RotorError> {
        let want = Want::Exactly(self.rec.new_anchor.clone().into_iter().collect());
        let bundle = self.bundle_now(&want)?;
        let seen = self.pods_at_bundle()?;
        let stale = stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen);
        self.restart_round(Step::DropOldAnchor, &stale)?;
        if !self.dry_run {
            let cp = &self.cfg.control_plane_namespace;
            let left: Vec<String> = mesh::list_pods(None, &mesh::mesh_selector(cp))?
                .iter()
                .filter(|p| is_meshed(p) && stale(p).is_some())
                .map(pod_name)
                .collect();
            if !left.is_empty() {
                crate::warn(
                    "meshed pods rotor did not restart still trust the old anchor (harmless, but restart them)",
                    &[("pods", &left.join(", "))],
                );
                self.note("stillTrustingOldAnchor", left.join(", "));
            }
        }
        Ok(())
    }

    fn note(&mut self, key: &str, value: String) {
        self.notes.push(KeyValue {
            key: key.into(),
            value,
        });
    }

    /// Stop before `at` because the site said so. A fresh run stopped
    /// before its first step leaves no record behind.
    fn pause(self, at: Step, reason: String) -> Result<Summary, RotorError> {
        let untouched = self.resumed_at.is_none() && at == Step::first(self.rec.mode);
        if !self.dry_run && untouched {
            record::clear()?;
        }
        crate::info(
            "stopping before the next step",
            &[("step", at.name()), ("reason", &reason)],
        );
        Ok(self.summary(Some((at, reason))))
    }

    /// The run's summary; `paused` when it stopped before a step.
    fn summary(mut self, paused: Option<(Step, String)>) -> Summary {
        let fact = |k: &str, v: String| KeyValue {
            key: k.into(),
            value: v,
        };
        let mut facts = vec![
            fact("mode", plan::mode_name(self.rec.mode).into()),
            fact("dryRun", self.dry_run.to_string()),
        ];
        if let Some(at) = self.resumed_at {
            facts.push(fact("resumedAt", at.name().into()));
        }
        if self.rec.mode == Mode::Full {
            facts.push(fact(
                "oldAnchor",
                self.rec.anchor_before.fingerprint.clone(),
            ));
            if let Some(new) = &self.rec.new_anchor {
                facts.push(fact("newAnchor", new.clone()));
            }
        } else {
            facts.push(fact("anchor", self.rec.anchor_before.fingerprint.clone()));
        }
        if let Some(b) = &self.rec.issuer_before {
            facts.push(fact("oldIssuer", b.fingerprint.clone()));
        }
        if let Some(new) = &self.rec.new_issuer {
            facts.push(fact("newIssuer", new.clone()));
        }
        if let Some(at) = self.rec.issuer_reloaded_at {
            facts.push(fact("issuerReloadedAt", at.to_string()));
        }
        let restarts = if self.dry_run {
            "restartsPlanned"
        } else {
            "restarts"
        };
        facts.push(fact(restarts, self.restarted.to_string()));
        if !self.dry_run {
            facts.push(fact("restartsTotal", self.rec.restarts.to_string()));
        }
        facts.push(fact("podsDeleted", self.pods_deleted.to_string()));
        facts.append(&mut self.notes);
        if let Some((at, _)) = &paused {
            facts.push(fact("pausedBefore", at.name().into()));
        }
        let message = match (paused, self.dry_run, self.rec.mode) {
            (Some((at, reason)), _, _) => format!(
                "stopped before step {}: {reason}; the next run resumes there",
                at.name()
            ),
            (None, true, _) => "dry run: walked every step; nothing was changed".to_string(),
            (None, false, Mode::Full) => format!(
                "rotated trust anchor {} -> {} and the identity issuer; {} workload restart(s)",
                short(&self.rec.anchor_before.fingerprint),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?"),
                self.restarted
            ),
            (None, false, Mode::IssuerOnly) => {
                "rotated the identity issuer; identity reloaded it, proxies \
                pick it up at their next leaf refresh"
                    .to_string()
            }
        };
        Summary { message, facts }
    }
}

#[cfg(test)]
mod tests {
    use crate::mesh::tests::{pod, workload};

    use super::*;

    fn mesh() -> Mesh {
        let spots = [
            ("linkerd", "linkerd-identity"),
            ("linkerd", "linkerd-proxy-injector"),
            ("linkerd-viz", "web"),
            ("linkerd-jaeger", "collector"),
            ("shop", "cart"),
            ("shop", "batch"),
            ("legacy", "old"),
        ];
        Mesh::build(
            spots
                .iter()
                .map(|(ns, n)| pod(ns, &format!("{n}-abc"), Some(("Deployment", n)), true))
                .collect(),
            spots
                .iter()
                .map(|(ns, n)| workload(WorkloadKind::Deployment, ns, n))
                .collect(),
        )
    }

    fn names(v: &[Target]) -> Vec<String> {
        v.iter()
            .map(|t| format!("{}/{}", t.id.namespace, t.id.name))
            .collect()
    }

    #[test]
    fn groups_split_the_mesh_and_honour_exclusions() {
        let cfg = Config {
            extensions: vec!["linkerd-viz".into(), "linkerd-jaeger".into()],
            exclude_namespaces: vec!["legacy".into()],
            exclude_workloads: vec!["shop/batch".into()],
            ..Config::default()
        };
        let m = mesh();
        assert_eq!(
            names(&group_workloads(&cfg, m.clone(), Group::ControlPlane)),
            ["linkerd/linkerd-identity", "linkerd/linkerd-proxy-injector"]
        );
        assert_eq!(
            names(&group_workloads(&cfg, m.clone(), Group::Extensions)),
            ["linkerd-viz/web", "linkerd-jaeger/collector"],
            "extensions come in the configured order"
        );
        assert_eq!(
            names(&group_workloads(&cfg, m.clone(), Group::DataPlane)),
            ["shop/cart"]
        );
    }

    fn issuer(renewal_time: Option<i64>, disabled: bool) -> crate::certificates::Certificate {
        crate::certificates::Certificate {
            namespace: "linkerd".into(),
            name: "linkerd-identity-issuer".into(),
            secret_name: "linkerd-identity-issuer".into(),
            issuer_kind: "ClusterIssuer".into(),
            issuer_name: "linkerd-identity-issuer".into(),
            is_ca: true,
            generation: 1,
            ready: true,
            issuing: false,
            revision: Some(1),
            conditions: vec![],
            not_before: None,
            not_after: None,
            renewal_time,
            renewal_disabled: disabled,
        }
    }

    #[test]
    fn automatic_renewal_inside_the_margin_is_refused() {
        let err = check_no_race(&issuer(Some(1_800), false), true, 0, 7_200).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("linkerd/linkerd-identity-issuer renews on its own at 1800"),
            "{msg}"
        );
        assert!(msg.contains("spec.renewal.policy: Disabled"), "{msg}");
        assert!(check_no_race(&issuer(Some(10_000), false), true, 0, 7_200).is_ok());
        assert!(
            check_no_race(&issuer(Some(1_800), true), true, 0, 7_200).is_ok(),
            "disabled"
        );
        assert!(
            check_no_race(&issuer(Some(1_800), false), false, 0, 7_200).is_ok(),
            "irrelevant"
        );
        assert!(check_no_race(&issuer(None, false), true, 0, 7_200).is_ok());
    }

    #[test]
    fn summaries_stay_short() {
        let ids: Vec<WorkloadId> = (0..12)
            .map(|i| WorkloadId {
                kind: mesh::Kind::Deployment,
                namespace: "ns".into(),
                name: format!("w{i}"),
            })
            .collect();
        let s = summarise(&ids);
        assert!(s.starts_with("deployment ns/w0, deployment ns/w1"), "{s}");
        assert!(s.ends_with("and 2 more"), "{s}");
        assert_eq!(summarise(&ids[..1]), "deployment ns/w0");
    }
}
