//! The progress record in its ConfigMap, kept with the rest of the state
//! so it survives `state_yaml` and a resumed run finds it.

use std::sync::Arc;

use crate::cluster::ClusterResult;

use super::super::SimCluster;

/// Where the progress record lives, so it survives `state_yaml`.
const PROGRESS_NAMESPACE: &str = "rotor-system";
const PROGRESS_CONFIG_MAP: &str = "rotor-progress";
const PROGRESS_KEY: &str = "progress";

impl SimCluster {
    pub(in crate::cluster::sim) fn read_progress(&self) -> ClusterResult<Option<String>> {
        let w = self.lock();
        Ok(w.config_maps
            .get(&(
                PROGRESS_NAMESPACE.to_string(),
                PROGRESS_CONFIG_MAP.to_string(),
            ))
            .and_then(|c| c.data.get(PROGRESS_KEY))
            .map(|v| v.to_string()))
    }

    pub(in crate::cluster::sim) fn write_progress(&self, record: &str) -> ClusterResult<()> {
        let mut w = self.lock();
        w.put_config_map(
            PROGRESS_NAMESPACE,
            PROGRESS_CONFIG_MAP,
            PROGRESS_KEY,
            Arc::from(record),
        );
        Ok(())
    }

    pub(in crate::cluster::sim) fn delete_progress(&self) -> ClusterResult<()> {
        let mut w = self.lock();
        w.config_maps.remove(&(
            PROGRESS_NAMESPACE.to_string(),
            PROGRESS_CONFIG_MAP.to_string(),
        ));
        Ok(())
    }
}
