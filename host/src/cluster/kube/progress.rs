//! The run's progress record: ConfigMap `rotor-progress` (key `progress`)
//! in rotor's namespace, so a killed run resumes where it stopped.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap as K8sConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch};
use serde_json::json;

use super::KubeCluster;
use crate::cluster::retry::on_conflict;
use crate::cluster::{ClusterError, ClusterResult};

pub const PROGRESS_CONFIG_MAP: &str = "rotor-progress";
pub const PROGRESS_KEY: &str = "progress";

impl KubeCluster {
    fn progress_api(&self) -> Api<K8sConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub(super) async fn read_progress(&self) -> ClusterResult<Option<String>> {
        let api = self.progress_api();
        match self
            .retry
            .run("read progress", || api.get(PROGRESS_CONFIG_MAP))
            .await
        {
            Ok(cm) => Ok(cm.data.and_then(|mut d| d.remove(PROGRESS_KEY))),
            Err(ClusterError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One merge patch when the ConfigMap exists; created on first save. A
    /// create that loses to another (409 AlreadyExists) patches again.
    pub(super) async fn write_progress(&self, record: &str) -> ClusterResult<()> {
        on_conflict("save progress", || self.write_progress_once(record)).await
    }

    async fn write_progress_once(&self, record: &str) -> ClusterResult<()> {
        let api = self.progress_api();
        let body = json!({"data": {PROGRESS_KEY: record}});
        let patch = Patch::Merge(&body);
        let pp = self.patch_params();
        match self
            .retry
            .run("save progress", || {
                api.patch(PROGRESS_CONFIG_MAP, &pp, &patch)
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(ClusterError::NotFound(_)) => {
                let cm = K8sConfigMap {
                    metadata: ObjectMeta {
                        name: Some(PROGRESS_CONFIG_MAP.into()),
                        namespace: Some(self.namespace.clone()),
                        labels: Some(BTreeMap::from([(
                            "app.kubernetes.io/managed-by".to_string(),
                            "rotor".to_string(),
                        )])),
                        ..ObjectMeta::default()
                    },
                    data: Some(BTreeMap::from([(
                        PROGRESS_KEY.to_string(),
                        record.to_string(),
                    )])),
                    ..K8sConfigMap::default()
                };
                let pp = self.post_params();
                self.retry
                    .run("save progress", || api.create(&pp, &cm))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn delete_progress(&self) -> ClusterResult<()> {
        let api = self.progress_api();
        let dp = self.delete_params();
        // Gone is gone: a 409 is tried again like any write of the record.
        on_conflict("clear progress", || async {
            match self
                .retry
                .run("clear progress", || api.delete(PROGRESS_CONFIG_MAP, &dp))
                .await
            {
                Ok(_) | Err(ClusterError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }
}
