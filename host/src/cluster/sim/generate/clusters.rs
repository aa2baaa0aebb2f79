//! Generated multicluster scenarios: one section per cluster, each a
//! generated cluster of its own, the first the home of the shared anchor.
//! Every cluster runs a meshed `linkerd-gateway`, and each namespace's
//! first workload calls its namesake in the next cluster.

use std::fmt::Write;

use super::{GenerateError, GenerateOptions, Generated, GeneratedCounts, generate_with};
use crate::cluster::sim::manifest::{DEFAULT_GATEWAY, MulticlusterMode};

/// The most clusters rotor generates in one scenario.
pub const MAX_CLUSTERS: u32 = 16;

/// How many namespaces of each cluster send traffic to the next cluster.
const LINKED_NAMESPACES: usize = 3;

/// The name of the `i`-th cluster (from 0).
pub fn cluster_name(i: u32) -> String {
    format!("c{}", i + 1)
}

/// `clusters` generated clusters in one scenario, linked in `mode`. One
/// cluster is an ordinary generated scenario.
pub fn generate_clusters(
    options: &GenerateOptions,
    clusters: u32,
    mode: MulticlusterMode,
) -> Result<Generated, GenerateError> {
    if clusters == 0 || clusters > MAX_CLUSTERS {
        return Err(GenerateError::Clusters(clusters));
    }
    if clusters == 1 {
        return super::generate(options);
    }
    let (gw_ns, gw_name) = DEFAULT_GATEWAY
        .split_once('/')
        .unwrap_or(("linkerd-multicluster", "linkerd-gateway"));
    let mode = match mode {
        MulticlusterMode::Gateway => "gateway",
        MulticlusterMode::Flat => "flat",
    };
    // The same workloads in every cluster: a mirrored service keeps its name.
    let layout = generate_with(options, "")?;
    let mut yaml = String::new();
    let mut counts = GeneratedCounts::default();
    for i in 0..clusters {
        let name = cluster_name(i);
        let next = cluster_name((i + 1) % clusters);
        let mut spec = format!("  cluster:\n    name: {name}\n");
        if i == 0 {
            spec.push_str("    home: true\n");
        }
        let _ = write!(spec, "  multicluster:\n    mode: {mode}\n    traffic:\n");
        for w in layout.first_workloads.iter().take(LINKED_NAMESPACES) {
            let _ = write!(
                spec,
                "    - from: {w}\n      to:\n        cluster: {next}\n        workload: {w}\n"
            );
        }
        add(&mut yaml, &mut counts, generate_with(options, &spec)?);
        let _ = write!(
            yaml,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {gw_ns}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {gw_name}\n  namespace: {gw_ns}\n\
             spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {gw_name}\n  template:\n    \
             metadata:\n      labels:\n        app: {gw_name}\n      annotations:\n        linkerd.io/inject: enabled\n    \
             spec:\n      containers:\n      - name: pause\n        image: gcr.io/google_containers/pause:3.2\n"
        );
        counts.namespaces += 1;
        counts.deployments += 1;
        counts.pods += 1;
    }
    Ok(Generated {
        yaml,
        counts,
        first_workloads: layout.first_workloads,
    })
}

fn add(yaml: &mut String, counts: &mut GeneratedCounts, g: Generated) {
    if !yaml.is_empty() {
        yaml.push_str("---\n");
    }
    yaml.push_str(&g.yaml);
    counts.namespaces += g.counts.namespaces;
    counts.pod_level_namespaces += g.counts.pod_level_namespaces;
    counts.deployments += g.counts.deployments;
    counts.statefulsets += g.counts.statefulsets;
    counts.daemonsets += g.counts.daemonsets;
    counts.pods += g.counts.pods;
}
