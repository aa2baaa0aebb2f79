//! Meshed pods whose owner rotor does not restart: what the configuration
//! says to do with them (`unowned`), the preflight's refusal while any of
//! them is left to `report`, and the part of each restart round that
//! restarts them, after rotor's own workloads: an Argo Rollout or a
//! StrimziPodSet asked to restart its pods its own way, any other owner's
//! pods deleted one by one.
//!
//! A run killed after asking an owner asks again when it resumes, since the
//! round still finds that owner's pods stale. That is harmless: a Rollout's
//! new `restartAt` only restarts, within its maxUnavailable, pods created
//! before it; annotating a StrimziPodSet that is still annotated changes
//! nothing, and one whose roll ended gets one more roll, one pod at a time.
//! Either way the wait ends once no pod of the owner is stale.
//!
//! Refusing before the first mutation is the point of `report`: such a
//! proxy would keep the old trust roots through the rotation and lose its
//! traffic once the old anchor leaves the bundle, so a rotation that cannot
//! restart it must not start. A pod of this kind that appears after the
//! rotation began stops the round that finds it stale, so no run ends
//! "succeeded" while one remains.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::run::Run;
use super::{Config, Step};
use crate::mesh::{self, Mesh, pod_name};
use crate::pods::PodSummary;
use crate::unowned::{self as strategies, DeleteOptions, owner_text};
use crate::{ObjectRef, RotorError, step};

/// What rotor does with the meshed pods of one owner kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Refuse to rotate while such a pod would need a restart.
    #[default]
    Report,
    /// Delete the pods one at a time, each replacement Ready before the next.
    DeletePods,
    /// Set the Rollout's `spec.restartAt`: Argo Rollouts restarts its pods.
    ArgoRollouts,
    /// Annotate the StrimziPodSet `strimzi.io/manual-rolling-update=true`:
    /// the Strimzi Cluster Operator rolls its pods.
    Strimzi,
}

impl Strategy {
    /// The name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Report => "report",
            Strategy::DeletePods => "delete-pods",
            Strategy::ArgoRollouts => "argo-rollouts",
            Strategy::Strimzi => "strimzi",
        }
    }

    /// Whether the owner's own controller is asked to restart its pods.
    fn asks_owner(self) -> bool {
        matches!(self, Strategy::ArgoRollouts | Strategy::Strimzi)
    }
}

/// What rotor does with bare meshed pods (no owner).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BarePods {
    /// Refuse to rotate while such a pod would need a restart.
    #[default]
    Report,
    /// Delete them: nothing recreates a bare pod, so it is gone.
    Delete,
}

/// The `unowned` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Unowned {
    /// Owner kind, as the pod's owner reference names it (`Rollout`,
    /// `StrimziPodSet`, `Job`): its strategy. Kinds not listed: `report`.
    pub owner_kinds: BTreeMap<String, Strategy>,
    pub bare_pods: BarePods,
}

const OWN_KINDS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

impl Unowned {
    /// Why the section cannot be used, as `unowned.<key>: <problem>`.
    pub fn validate(&self) -> Result<(), String> {
        for (kind, strategy) in &self.owner_kinds {
            if kind.is_empty() || kind.contains(['/', ' ']) {
                return Err(format!(
                    "ownerKinds: {kind:?} is not a Kubernetes kind (for example Rollout)"
                ));
            }
            if OWN_KINDS.contains(&kind.as_str()) {
                return Err(format!(
                    "ownerKinds.{kind}: rotor restarts {kind}s itself; remove the entry"
                ));
            }
            let fits = match strategy {
                Strategy::ArgoRollouts => Some("Rollout"),
                Strategy::Strimzi => Some("StrimziPodSet"),
                Strategy::Report | Strategy::DeletePods => None,
            };
            if let Some(only) = fits.filter(|only| only != kind) {
                return Err(format!(
                    "ownerKinds.{kind}: strategy {} applies to kind {only} only; use delete-pods or report for {kind}",
                    strategy.name()
                ));
            }
        }
        Ok(())
    }

    /// The strategy for the pods of owner kind `kind`.
    pub fn strategy(&self, kind: &str) -> Strategy {
        self.owner_kinds.get(kind).copied().unwrap_or_default()
    }
}

/// What one restart round does with one meshed pod rotor does not own.
enum Plan<'m> {
    Report(String),
    Replace(&'m ObjectRef),
    /// Ask the owner's controller (a Rollout, a StrimziPodSet) to restart.
    AskOwner(&'m ObjectRef),
    DeleteBare,
}

fn owner_key(o: &ObjectRef) -> (String, String, String) {
    (o.namespace.clone(), o.kind.clone(), o.name.clone())
}

/// The plan for each meshed pod in `mesh` with no workload rotor restarts,
/// in namespaces it may restart in (an excluded one is left to `report`).
fn plans<'m>(cfg: &Config, mesh: &'m Mesh) -> Vec<(&'m PodSummary, Plan<'m>)> {
    let bare = mesh.bare_pods.iter().map(|p| {
        let plan = match cfg.unowned.bare_pods {
            BarePods::Delete if cfg.restarts(&p.namespace, &p.name) => Plan::DeleteBare,
            _ => Plan::Report(format!("pod {} (bare pod)", pod_name(p))),
        };
        (p, plan)
    });
    let owned = mesh.unmanaged_pods.iter().map(|(p, text)| {
        let plan = match &p.owner {
            Some(o) if !text.ends_with("(not found)") && cfg.restarts(&o.namespace, &o.name) => {
                match cfg.unowned.strategy(&o.kind) {
                    Strategy::DeletePods => Plan::Replace(o),
                    s if s.asks_owner() => Plan::AskOwner(o),
                    _ => Plan::Report(format!("pod {} (owned by {text})", pod_name(p))),
                }
            }
            _ => Plan::Report(format!("pod {} (owned by {text})", pod_name(p))),
        };
        (p, plan)
    });
    bare.chain(owned).collect()
}

/// The preflight's refusal: meshed pods a full rotation would have to
/// restart whose strategy is `report`, one line naming them and what to set.
pub(super) fn refuse_reported(cfg: &Config, mesh: &Mesh) -> Result<(), RotorError> {
    let reported = reported_items(cfg, mesh);
    if reported.is_empty() {
        return Ok(());
    }
    Err(RotorError::Blocked {
        reason: format!(
            "{} meshed pod(s) not owned by a Deployment, StatefulSet or DaemonSet would need a \
             restart and their strategy is report; set unowned.ownerKinds.<kind> to \
             delete-pods or unowned.barePods to delete in the policy config, or restart or \
             remove them yourself",
            reported.len()
        ),
        items: reported,
    })
}

/// "pod ns/name (owned by Kind ns/owner)" for each pod left to `report`.
pub(super) fn reported_items(cfg: &Config, mesh: &Mesh) -> Vec<String> {
    plans(cfg, mesh)
        .into_iter()
        .filter_map(|(_, plan)| match plan {
            Plan::Report(item) => Some(item),
            _ => None,
        })
        .collect()
}

impl Run<'_> {
    /// The round's last part: the meshed pods of other owners and bare pods
    /// that `stale` finds, each by its strategy. A stale pod left to
    /// `report` stops the round before anything is deleted.
    pub(super) fn restart_unowned(
        &mut self,
        round: Step,
        stale: &dyn Fn(&PodSummary) -> Option<String>,
    ) -> Result<(), RotorError> {
        let mesh = mesh::discover(&self.cfg.control_plane_namespace)?;
        let dry_run = self.dry_run;
        let due: Vec<(&PodSummary, Plan<'_>)> = plans(&self.cfg, &mesh)
            .into_iter()
            .filter(|(p, _)| dry_run || stale(p).is_some())
            .collect();
        // A mesh of rotor's own workloads only shows no step for this.
        if due.is_empty() {
            return Ok(());
        }
        let name = format!("{}/unowned", round.name());
        step(&name, || self.restart_unowned_pods(round, stale, due))
    }

    fn restart_unowned_pods(
        &mut self,
        round: Step,
        stale: &dyn Fn(&PodSummary) -> Option<String>,
        due: Vec<(&PodSummary, Plan<'_>)>,
    ) -> Result<((), String), RotorError> {
        let cp = self.cfg.control_plane_namespace.clone();
        let dry_run = self.dry_run;
        let reported: Vec<String> = due
            .iter()
            .filter_map(|(p, plan)| match plan {
                Plan::Report(item) => Some(format!("{item}: {}", stale(p).unwrap_or_default())),
                _ => None,
            })
            .collect();
        if !reported.is_empty() && !dry_run {
            return Err(RotorError::Blocked {
                reason: format!(
                    "{} meshed pod(s) rotor may not restart still need a restart and their \
                     strategy is report; restart or remove them, or configure unowned, then \
                     run again",
                    reported.len()
                ),
                items: reported,
            });
        }
        let mut by_owner: BTreeMap<(String, String, String), (&ObjectRef, Vec<PodSummary>)> =
            BTreeMap::new();
        let mut asked: BTreeMap<(String, String, String), &ObjectRef> = BTreeMap::new();
        let mut bare = Vec::new();
        for (p, plan) in &due {
            match plan {
                Plan::Replace(o) => {
                    by_owner
                        .entry(owner_key(o))
                        .or_insert_with(|| (o, Vec::new()))
                        .1
                        .push((*p).clone());
                }
                Plan::AskOwner(o) => {
                    asked.insert(owner_key(o), o);
                }
                Plan::DeleteBare => bare.push(*p),
                Plan::Report(_) => {}
            }
        }
        if by_owner.is_empty() && bare.is_empty() && asked.is_empty() {
            return Ok(((), "no meshed pods of other owners need a restart".into()));
        }
        let selector = mesh::mesh_selector(&cp);
        let gate = format!("{}-unowned-pods", round.name());
        let opts = DeleteOptions {
            gate: &gate,
            pod_timeout: self.cfg.deadlines.pod_seconds,
            selector: &selector,
            dry_run,
        };
        let problem = |p: &PodSummary| stale(p);
        for owner in asked.values() {
            strategies::restart_through_owner(
                owner,
                &problem,
                &opts,
                self.cfg.deadlines.rollout_seconds,
            )?;
        }
        let mut deleted = 0;
        for (owner, pods) in by_owner.values() {
            deleted += strategies::replace_one_by_one(owner, pods, &problem, &opts)?;
        }
        for p in &bare {
            strategies::delete_bare(p, &opts)?;
        }
        self.pods_deleted += (deleted + bare.len()) as u64;
        let verb = if dry_run { "would delete" } else { "deleted" };
        let list = |owners: Vec<String>| {
            if owners.is_empty() {
                "none".to_string()
            } else {
                owners.join(", ")
            }
        };
        let owners: Vec<String> = by_owner.values().map(|(o, _)| owner_text(o)).collect();
        let asked_owners: Vec<String> = asked.values().map(|o| owner_text(o)).collect();
        let ask = if dry_run { "would ask" } else { "asked" };
        Ok((
            (),
            format!(
                "{ask} {} owner(s) to restart their pods ({}); {verb} {deleted} pod(s) one by one for their owners to replace ({}); {verb} {} bare pod(s)",
                asked_owners.len(),
                list(asked_owners),
                list(owners),
                bare.len()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::tests::pod;

    fn cfg(json: &str) -> Result<Config, String> {
        Config::parse(json).map_err(|e| e.to_string())
    }

    #[test]
    fn strategies_are_read_per_owner_kind_and_default_to_report() {
        let c = cfg(
            r#"{"unowned":{"ownerKinds":{"Rollout":"delete-pods","Job":"report"},
                "barePods":"delete"}}"#,
        )
        .unwrap();
        assert_eq!(c.unowned.strategy("Rollout"), Strategy::DeletePods);
        assert_eq!(c.unowned.strategy("Job"), Strategy::Report);
        assert_eq!(c.unowned.strategy("StrimziPodSet"), Strategy::Report);
        assert_eq!(c.unowned.bare_pods, BarePods::Delete);
        assert_eq!(cfg("{}").unwrap().unowned, Unowned::default());
    }

    #[test]
    fn unusable_settings_are_refused_in_one_line() {
        let c = cfg(
            r#"{"unowned":{"ownerKinds":{"Rollout":"argo-rollouts","StrimziPodSet":"strimzi"}}}"#,
        )
        .unwrap();
        assert_eq!(c.unowned.strategy("Rollout"), Strategy::ArgoRollouts);
        assert_eq!(c.unowned.strategy("StrimziPodSet"), Strategy::Strimzi);
        let err = cfg(r#"{"unowned":{"ownerKinds":{"Job":"argo-rollouts"}}}"#).unwrap_err();
        assert_eq!(
            err,
            "unowned.ownerKinds.Job: strategy argo-rollouts applies to kind Rollout only; use delete-pods or report for Job"
        );
        let err = cfg(r#"{"unowned":{"ownerKinds":{"Rollout":"strimzi"}}}"#).unwrap_err();
        assert!(
            err.contains("strategy strimzi applies to kind StrimziPodSet only"),
            "{err}"
        );
        let err = cfg(r#"{"unowned":{"ownerKinds":{"Deployment":"delete-pods"}}}"#).unwrap_err();
        assert!(err.contains("rotor restarts Deployments itself"), "{err}");
        let err = cfg(r#"{"unowned":{"ownerKinds":{"Rollout":"restart"}}}"#).unwrap_err();
        assert!(err.contains("unknown variant `restart`"), "{err}");
        let err = cfg(r#"{"unowned":{"barePods":"keep"}}"#).unwrap_err();
        assert!(err.contains("unknown variant `keep`"), "{err}");
        let err = cfg(r#"{"unowned":{"owners":{}}}"#).unwrap_err();
        assert!(err.contains("unknown field `owners`"), "{err}");
    }

    #[test]
    fn pods_left_to_report_are_named_with_their_owners() {
        let mesh = Mesh::build(
            vec![
                pod("shop", "web-6f-abcde", Some(("Rollout", "web")), true),
                pod(
                    "kafka",
                    "my-kafka-0",
                    Some(("StrimziPodSet", "my-kafka")),
                    true,
                ),
                pod("shop", "debug", None, true),
            ],
            vec![],
        );
        let all = reported_items(&Config::default(), &mesh);
        assert_eq!(
            all,
            [
                "pod shop/debug (bare pod)",
                "pod shop/web-6f-abcde (owned by Rollout shop/web)",
                "pod kafka/my-kafka-0 (owned by StrimziPodSet kafka/my-kafka)",
            ]
        );
        let c = cfg(r#"{"unowned":{"ownerKinds":{"Rollout":"delete-pods"},"barePods":"delete"}}"#)
            .unwrap();
        assert_eq!(
            reported_items(&c, &mesh),
            ["pod kafka/my-kafka-0 (owned by StrimziPodSet kafka/my-kafka)"]
        );
        let err = refuse_reported(&c, &mesh).unwrap_err().to_string();
        assert!(
            err.starts_with("1 meshed pod(s) not owned by a Deployment, StatefulSet or DaemonSet")
                && err.contains("strategy is report")
                && err.ends_with("(owned by StrimziPodSet kafka/my-kafka)"),
            "{err}"
        );
        let excluded = Config {
            exclude_namespaces: vec!["shop".into()],
            ..c
        };
        assert_eq!(
            reported_items(&excluded, &mesh).len(),
            3,
            "an excluded namespace is never touched"
        );
    }
}
