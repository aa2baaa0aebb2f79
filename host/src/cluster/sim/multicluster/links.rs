//! The pairs across clusters a scenario declares (`spec.multicluster`),
//! resolved to workloads: the client, the server, and in gateway mode the
//! server cluster's gateway both connections go through.

use super::super::manifest::{DEFAULT_GATEWAY, MulticlusterMode};
use super::super::scenario::ScenarioError;
use super::super::world::World;
use super::cross::{CrossPair, Endpoint};

/// A cluster's name (`spec.cluster.name`).
pub fn cluster_name(world: &World) -> &str {
    world.spec.cluster.as_ref().map_or("", |c| c.name.as_str())
}

fn unit(world: &World, r: &str) -> Result<usize, String> {
    world
        .resolve_workload_ref(r)
        .map(|wl| world.workloads[wl].unit)
}

/// Every cluster's declared traffic to other clusters.
pub fn resolve(worlds: &[World]) -> Result<Vec<CrossPair>, ScenarioError> {
    let mut pairs = Vec::new();
    for (i, w) in worlds.iter().enumerate() {
        let Some(mc) = &w.spec.multicluster else {
            continue;
        };
        for (k, t) in mc.traffic.iter().enumerate() {
            let at = |m: String| {
                ScenarioError::Invalid(format!(
                    "cluster {}: Simulation spec.multicluster.traffic[{k}]: {m}",
                    cluster_name(w)
                ))
            };
            let client = unit(w, &t.from).map_err(at)?;
            let j = worlds
                .iter()
                .position(|o| cluster_name(o) == t.to.cluster)
                .ok_or_else(|| at(format!("no cluster {:?}", t.to.cluster)))?;
            if j == i {
                return Err(at(
                    "names its own cluster (traffic within a cluster goes in spec.traffic)".into(),
                ));
            }
            let remote = &worlds[j];
            let server = unit(remote, &t.to.workload).map_err(at)?;
            let gateway = match mc.mode {
                MulticlusterMode::Flat => None,
                MulticlusterMode::Gateway => {
                    let g = remote
                        .spec
                        .multicluster
                        .as_ref()
                        .map_or(DEFAULT_GATEWAY, |m| m.gateway());
                    let gw = unit(remote, g)
                        .map_err(|e| at(format!("cluster {} has no gateway: {e}", t.to.cluster)))?;
                    Some(Endpoint { world: j, unit: gw })
                }
            };
            pairs.push(CrossPair {
                client: Endpoint {
                    world: i,
                    unit: client,
                },
                server: Endpoint {
                    world: j,
                    unit: server,
                },
                gateway,
                name: format!(
                    "{}:{} -> {}:{}",
                    cluster_name(w),
                    w.outage.unit_name(client),
                    t.to.cluster,
                    remote.outage.unit_name(server)
                ),
            });
        }
    }
    Ok(pairs)
}
