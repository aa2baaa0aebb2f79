//! Several clusters in one simulation: a multicluster Linkerd mesh whose
//! clusters share one trust anchor, issued in the home cluster and copied
//! into every member, each with its own identity issuer, cert-manager,
//! trust-manager and control plane.
//!
//! The clusters' worlds share one virtual clock (`super::fleet`): a wait
//! in any cluster moves every cluster, event by event. Pairs whose client
//! and server run in different clusters (`links`) are judged by anchor
//! fingerprint at every step (`cross`). `docs/trust-model.md` ("Several
//! clusters") describes the model and the Linkerd facts it follows.

pub mod cross;
mod links;
pub mod report;
mod sections;

use std::sync::{Arc, Mutex, MutexGuard};

use super::SimCluster;
use super::fleet::Fleet;
use super::load::SharedAnchor;
use super::report::OutageReport;
use super::scenario::ScenarioError;
use super::world::World;

pub use report::{ClusterReport, MulticlusterReport};
pub use sections::is_multicluster;

/// One cluster of the simulation, as the policy sees it.
#[derive(Debug, Clone)]
pub struct SimMember {
    pub name: String,
    pub home: bool,
    pub cluster: Arc<SimCluster>,
}

/// Clusters sharing one clock; each is a [`SimCluster`] of its own.
#[derive(Debug)]
pub struct MultiSim {
    fleet: Arc<Mutex<Fleet>>,
    members: Vec<SimMember>,
}

fn in_cluster(name: &str, e: ScenarioError) -> ScenarioError {
    ScenarioError::Invalid(format!("cluster {name}: {e}"))
}

impl MultiSim {
    /// Load a scenario of several sections, each beginning with a
    /// `Simulation` document that names its cluster; exactly one is home.
    pub fn from_yaml(text: &str) -> Result<MultiSim, ScenarioError> {
        let mut sections = sections::split(text)?;
        // The home cluster first: its anchor is what members copy.
        sections.sort_by_key(|s| !s.home);
        let home = &sections[0];
        let home_world = World::load(&home.text).map_err(|e| in_cluster(&home.name, e))?;
        let shared = SharedAnchor::of_home(&home_world).map_err(|e| in_cluster(&home.name, e))?;
        let mut worlds = vec![home_world];
        for s in &sections[1..] {
            let world =
                World::load_with(&s.text, Some(&shared)).map_err(|e| in_cluster(&s.name, e))?;
            if world.now != worlds[0].now {
                return Err(in_cluster(
                    &s.name,
                    ScenarioError::Invalid(
                        "Simulation spec.startTime differs from the home cluster's: the clusters share one clock".into(),
                    ),
                ));
            }
            worlds.push(world);
        }
        let pairs = links::resolve(&worlds)?;
        let mut fleet = Fleet {
            worlds,
            cross: cross::CrossOutage::new(pairs),
        };
        let now = fleet.now();
        fleet.cross.evaluate(&fleet.worlds, now);
        let fleet = Arc::new(Mutex::new(fleet));
        let members = sections
            .iter()
            .enumerate()
            .map(|(index, s)| SimMember {
                name: s.name.clone(),
                home: s.home,
                cluster: Arc::new(SimCluster::member(fleet.clone(), index)),
            })
            .collect();
        Ok(MultiSim { fleet, members })
    }

    /// Every cluster, the home first.
    pub fn clusters(&self) -> &[SimMember] {
        &self.members
    }

    /// A cluster by name.
    pub fn cluster(&self, name: &str) -> Option<&Arc<SimCluster>> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .map(|m| &m.cluster)
    }

    fn lock(&self) -> MutexGuard<'_, Fleet> {
        // A panic while holding the lock leaves a usable model; keep going.
        self.fleet.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared virtual clock.
    pub fn now(&self) -> i64 {
        self.lock().now()
    }

    /// Advance every cluster's clock together.
    pub fn advance(&self, seconds: i64) {
        let mut fleet = self.lock();
        let target = fleet.now() + seconds.max(0);
        fleet.advance_to(target);
    }

    /// Keep the clock running after the policy returned, as long as the
    /// longest `afterRunSeconds` of any cluster.
    pub fn watch_after_run(&self) {
        let mut fleet = self.lock();
        let seconds = fleet
            .worlds
            .iter()
            .map(|w| w.spec.after_run().max(0))
            .max()
            .unwrap_or(0);
        let target = fleet.now() + seconds;
        fleet.advance_to(target);
        for w in &mut fleet.worlds {
            w.after_run_seconds += seconds;
        }
    }

    /// Each cluster's report and the pairs across clusters.
    pub fn report(&self) -> MulticlusterReport {
        let fleet = self.lock();
        let clusters = self
            .members
            .iter()
            .zip(&fleet.worlds)
            .map(|(m, w)| ClusterReport {
                name: m.name.clone(),
                home: m.home,
                simulation: w.report(),
            })
            .collect();
        let cross = OutageReport {
            broken_pair_seconds: fleet.cross.broken_pair_seconds(),
            windows: fleet.cross.windows(fleet.now()),
        };
        MulticlusterReport::new(clusters, cross)
    }
}
