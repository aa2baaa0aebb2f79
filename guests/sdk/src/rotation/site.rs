//! What a site policy may change about the rotation without touching its
//! steps and gates: when a run stops, and how the data plane is staged.

use std::collections::BTreeSet;

use crate::mesh::WorkloadId;
use crate::pods::PodSummary;
use crate::workloads::Workload;
use crate::{ObjectRef, RotorError};

/// A meshed workload rotor may restart, with the pods it was found by.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: WorkloadId,
    pub workload: Workload,
    pub pods: Vec<PodSummary>,
}

/// Workloads restarted (in waves) and verified together before the next
/// stage starts.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Shown in the step name (`trust-new-anchor/data-plane/<name>`).
    pub name: String,
    pub targets: Vec<Target>,
}

/// The hooks a site policy implements; every one has a default that keeps
/// the default policy's behaviour.
pub trait Site {
    /// Asked before each step (`step` is its name). `Some(reason)` stops the
    /// run there, cleanly: progress is saved and the next run resumes at
    /// that step. Steps are safe places to stop: a killed run stops there too.
    fn hold(&self, _step: &str) -> Result<Option<String>, RotorError> {
        Ok(None)
    }

    /// The data plane's workloads split into stages, each restarted and
    /// verified before the next. Workloads no stage holds are restarted in a
    /// last stage `rest`, so a stage list can never leave a proxy behind.
    fn stages(&self, data_plane: Vec<Target>) -> Result<Vec<Stage>, RotorError> {
        Ok(vec![Stage {
            name: String::new(),
            targets: data_plane,
        }])
    }

    /// Called after `done` is verified and before `next` starts.
    fn between_stages(&self, _done: &Stage, _next: &Stage) -> Result<(), RotorError> {
        Ok(())
    }

    /// Gate `issuer-reloaded`: wait until identity serves the issuer renewed
    /// at `renewed_at` (requested at `since`) and return since when. The
    /// default waits until every replica serves it: by identity's issuer TTL
    /// gauge where `expiry` is given (the version exports it and the run
    /// may read it; [`identity_metrics`](crate::identity_metrics)), else by
    /// every replica's report
    /// ([`identity::wait_every_replica_reload`](crate::identity::wait_every_replica_reload));
    /// anything weaker lets a lagging replica sign new pods' leaves with the
    /// old issuer. A timeout makes the rotation restart identity instead.
    fn issuer_reloaded(
        &self,
        identity: &ObjectRef,
        since: i64,
        renewed_at: i64,
        expiry: Option<crate::identity_metrics::IssuerExpiry>,
        timeout: u32,
    ) -> Result<i64, RotorError> {
        if let Some(expiry) = expiry {
            let gauge = crate::identity_metrics::wait_every_replica_serves(
                identity,
                expiry,
                since,
                "issuer-reloaded",
                timeout,
            )?;
            if let Some(at) = gauge {
                return Ok(at);
            }
            crate::info(
                "identity's issuer TTL gauge cannot tell here; waiting for its IssuerUpdated events",
                &[],
            );
        }
        crate::identity::wait_every_replica_reload(
            identity,
            since,
            renewed_at,
            "issuer-reloaded",
            timeout,
        )
    }
}

/// The default policy's choices: never hold, one data-plane stage.
pub struct Default;

impl Site for Default {}

/// `site`'s stages plus a last `rest` stage for what they left out (each
/// workload once, in the first stage that names it); empty stages dropped.
pub fn plan_stages(site: &dyn Site, data_plane: Vec<Target>) -> Result<Vec<Stage>, RotorError> {
    let all: BTreeSet<WorkloadId> = data_plane.iter().map(|t| t.id.clone()).collect();
    let mut seen = BTreeSet::new();
    let mut out: Vec<Stage> = Vec::new();
    for mut stage in site.stages(data_plane.clone())? {
        stage
            .targets
            .retain(|t| all.contains(&t.id) && seen.insert(t.id.clone()));
        if !stage.targets.is_empty() {
            out.push(stage);
        }
    }
    let rest: Vec<Target> = data_plane
        .into_iter()
        .filter(|t| !seen.contains(&t.id))
        .collect();
    if !rest.is_empty() {
        let name = if out.is_empty() { "" } else { "rest" };
        out.push(Stage {
            name: name.into(),
            targets: rest,
        });
    }
    Ok(out)
}

/// A site policy's configuration: its own keys under `site`, the rotation's
/// (the default policy's, all optional) under `rotation`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig<T> {
    pub site: T,
    #[serde(default)]
    pub rotation: super::Config,
}

impl<T: serde::de::DeserializeOwned> SiteConfig<T> {
    /// Parse the JSON handed to `run`; errors name the key at fault.
    pub fn parse(text: &str) -> Result<Self, RotorError> {
        let config: SiteConfig<T> =
            serde_json::from_str(text).map_err(|e| RotorError::Config(e.to_string()))?;
        config
            .rotation
            .validate()
            .map_err(|e| RotorError::Config(format!("rotation: {e}")))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorkloadKind;
    use crate::mesh::tests::workload;

    fn target(ns: &str, name: &str) -> Target {
        let w = workload(WorkloadKind::Deployment, ns, name);
        Target {
            id: WorkloadId::of(&w),
            workload: w,
            pods: vec![],
        }
    }

    fn names(stages: &[Stage]) -> Vec<(String, Vec<String>)> {
        stages
            .iter()
            .map(|s| {
                let ids = s.targets.iter().map(|t| t.id.name.clone()).collect();
                (s.name.clone(), ids)
            })
            .collect()
    }

    /// Puts `first` alone in a stage, then names a workload that is not in
    /// the data plane and `first` again.
    struct Sloppy(&'static str);

    impl Site for Sloppy {
        fn stages(&self, data_plane: Vec<Target>) -> Result<Vec<Stage>, RotorError> {
            let first: Vec<Target> = data_plane
                .iter()
                .filter(|t| t.id.name == self.0)
                .cloned()
                .collect();
            Ok(vec![
                Stage {
                    name: "first".into(),
                    targets: first.clone(),
                },
                Stage {
                    name: "again".into(),
                    targets: [first, vec![target("elsewhere", "ghost")]].concat(),
                },
            ])
        }
    }

    #[test]
    fn the_default_is_one_unnamed_stage() {
        let all = vec![target("a", "x"), target("b", "y")];
        let stages = plan_stages(&Default, all).unwrap();
        assert_eq!(
            names(&stages),
            [(String::new(), vec!["x".into(), "y".into()])]
        );
    }

    #[test]
    fn left_out_workloads_go_last_and_none_twice_or_invented() {
        let all = vec![target("a", "x"), target("b", "y"), target("c", "z")];
        let stages = plan_stages(&Sloppy("y"), all).unwrap();
        assert_eq!(
            names(&stages),
            [
                ("first".to_string(), vec!["y".to_string()]),
                ("rest".to_string(), vec!["x".to_string(), "z".to_string()]),
            ]
        );
    }
}
