//! The restart rounds: the three steps that restart meshed workloads
//! (trust the new anchor, adopt the new issuer, drop the old anchor), each
//! over the control plane, then the extensions, then the data plane in the
//! site's stages, restarting only workloads with a stale pod.

use super::Config;
use super::plan::Step;
use super::run::Run;
use super::site::{Stage, Target, plan_stages};
use crate::bundle::Want;
use crate::mesh::{self, Mesh, WorkloadId, is_meshed, pod_name, stale_roots};
use crate::pods::PodSummary;
use crate::restart;
use crate::workloads::Workload;
use crate::{CallContext, RotorError, step};

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
    /// Step trust-new-anchor: restart what does not yet trust the bundle
    /// with both anchors.
    pub(super) fn trust_new_anchor(&mut self) -> Result<(), RotorError> {
        let want = Want::Contains(match &self.rec.new_anchor {
            Some(new) => vec![self.rec.anchor_before.fingerprint.clone(), new.clone()],
            None => vec![],
        });
        let bundle = self.bundle_now(&want)?;
        let seen = self.pods_at_bundle()?;
        let stale = stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen);
        self.restart_round(Step::TrustNewAnchor, &stale)
    }

    /// Step adopt-new-issuer: restart what started before identity
    /// reloaded the new issuer.
    pub(super) fn adopt_new_issuer(&mut self) -> Result<(), RotorError> {
        if let Some(by) = self.leaves_refreshed_by()? {
            // The run paused until `by` (a dry run walks on).
            return step(Step::AdoptNewIssuer.name(), || {
                Ok((
                    (),
                    format!(
                        "no restarts: every working proxy renewed its leaf from the new issuer \
                         by {by} (adoptNewIssuer: leaf-refresh)"
                    ),
                ))
            });
        }
        let want = Want::Contains(match &self.rec.new_anchor {
            Some(new) => vec![self.rec.anchor_before.fingerprint.clone(), new.clone()],
            None => vec![],
        });
        let bundle = self.bundle_now(&want)?;
        let reloaded_at = self.rec.issuer_reloaded_at.unwrap_or(i64::MAX);
        // Pod start times have a resolution of one second, and a pod that
        // started in the second of the reload counts as started before it:
        // restart only once that second has passed, or the pods the restart
        // creates would never read as fresh.
        let now = crate::clock::now();
        if !self.dry_run && reloaded_at != i64::MAX && now <= reloaded_at {
            let wait = u32::try_from(reloaded_at - now + 1).unwrap_or(u32::MAX);
            crate::clock::wait(wait).call(|| "let the second of the issuer reload pass")?;
        }
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

    /// Step drop-old-anchor: restart what still trusts the old anchor.
    pub(super) fn drop_old_anchor(&mut self) -> Result<(), RotorError> {
        let bundle = self.bundle_now(&self.final_bundle())?;
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
        self.restart_unowned(round, stale)
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
        let done = crate::window::restart_in_window(
            &workloads,
            &self.restart_options(format!("{gate}-rollouts")),
        )?;
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
}

#[cfg(test)]
mod tests {
    use crate::mesh::tests::{pod, workload};

    use super::*;
    use crate::WorkloadKind;

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
