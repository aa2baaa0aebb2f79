//! Secrets (create or update with optimistic concurrency) and ConfigMaps
//! (read, and create or replace the same way).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap as K8sConfigMap, Secret as K8sSecret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;

use super::{KubeCluster, check_name, convert, qualified};
use crate::cluster::retry::on_conflict;
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{ConfigMap, ConfigMapWrite, KeyValue, Secret, SecretWrite};

fn map(kvs: &[KeyValue]) -> Option<BTreeMap<String, String>> {
    (!kvs.is_empty()).then(|| {
        kvs.iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect()
    })
}

impl KubeCluster {
    pub(super) async fn secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        check_name("namespace", namespace)?;
        check_name("secret", name)?;
        let api: Api<K8sSecret> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("read secret {}", qualified(namespace, name));
        Ok(convert::secret_record(
            &self.retry.run(&what, || api.get(name)).await?,
        ))
    }

    /// With an expected resourceVersion: update only that version (a stale
    /// one is `Conflict`). Without: replace whatever is there, or create.
    pub(super) async fn put_secret(&self, w: SecretWrite) -> ClusterResult<String> {
        check_name("namespace", &w.namespace)?;
        check_name("secret", &w.name)?;
        let api: Api<K8sSecret> = Api::namespaced(self.client.clone(), &w.namespace);
        let what = format!("write secret {}", qualified(&w.namespace, &w.name));
        let obj = K8sSecret {
            metadata: ObjectMeta {
                name: Some(w.name.clone()),
                namespace: Some(w.namespace.clone()),
                labels: map(&w.labels),
                annotations: map(&w.annotations),
                resource_version: w.expected_resource_version.clone(),
                ..ObjectMeta::default()
            },
            type_: Some(w.type_.clone()),
            data: Some(
                w.data
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                    .collect(),
            ),
            ..K8sSecret::default()
        };
        let pp = self.post_params();
        let written = if w.expected_resource_version.is_some() {
            self.retry
                .run(&what, || api.replace(&w.name, &pp, &obj))
                .await?
        } else {
            // Read first: updating an existing Secret needs only `get` and
            // `update` on that one name, which is all rotor's RBAC grants.
            // Whatever is there is replaced, so a 409 (changed, or created
            // by someone else, since the read) is read again and retried.
            on_conflict(&what, || async {
                let mut obj = obj.clone();
                match self.retry.run(&what, || api.get(&w.name)).await {
                    Ok(current) => {
                        obj.metadata.resource_version = current.metadata.resource_version;
                        self.retry
                            .run(&what, || api.replace(&w.name, &pp, &obj))
                            .await
                    }
                    Err(ClusterError::NotFound(_)) => {
                        self.retry.run(&what, || api.create(&pp, &obj)).await
                    }
                    Err(e) => Err(e),
                }
            })
            .await?
        };
        Ok(written.metadata.resource_version.unwrap_or_default())
    }

    /// Delete with a resourceVersion precondition (a stale one is `Conflict`).
    pub(super) async fn remove_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        check_name("namespace", namespace)?;
        check_name("secret", name)?;
        let api: Api<K8sSecret> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("delete secret {}", qualified(namespace, name));
        let mut dp = self.delete_params();
        dp.preconditions = Some(kube::api::Preconditions {
            resource_version: Some(resource_version.to_string()),
            uid: None,
        });
        self.retry.run(&what, || api.delete(name, &dp)).await?;
        Ok(())
    }

    pub(super) async fn config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        check_name("namespace", namespace)?;
        check_name("config map", name)?;
        let api: Api<K8sConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("read config map {}", qualified(namespace, name));
        Ok(convert::config_map_record(
            &self.retry.run(&what, || api.get(name)).await?,
        ))
    }

    /// Create, or replace: with an expected resourceVersion only that
    /// version (a stale one is `Conflict`, checked again by the API server
    /// on the replace); without one whatever is there, read again and
    /// retried on a 409. A replace keeps the owner references and
    /// finalizers it read, which a policy's record does not carry.
    pub(super) async fn put_config_map(&self, w: ConfigMapWrite) -> ClusterResult<String> {
        check_name("namespace", &w.namespace)?;
        check_name("config map", &w.name)?;
        let api: Api<K8sConfigMap> = Api::namespaced(self.client.clone(), &w.namespace);
        let what = format!("write config map {}", qualified(&w.namespace, &w.name));
        let obj = K8sConfigMap {
            metadata: ObjectMeta {
                name: Some(w.name.clone()),
                namespace: Some(w.namespace.clone()),
                labels: map(&w.labels),
                annotations: map(&w.annotations),
                ..ObjectMeta::default()
            },
            data: Some(
                w.data
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect(),
            ),
            ..K8sConfigMap::default()
        };
        let pp = self.post_params();
        let expected = w.expected_resource_version.clone();
        let attempt = || async {
            let mut obj = obj.clone();
            match self.retry.run(&what, || api.get(&w.name)).await {
                Ok(current) => {
                    let version = current.metadata.resource_version.clone();
                    if let Some(e) = &expected
                        && version.as_ref() != Some(e)
                    {
                        return Err(ClusterError::Conflict(format!(
                            "{what}: resourceVersion {} is not {e}",
                            version.unwrap_or_default()
                        )));
                    }
                    obj.metadata.resource_version = expected.clone().or(version);
                    obj.metadata.owner_references = current.metadata.owner_references;
                    obj.metadata.finalizers = current.metadata.finalizers;
                    self.retry
                        .run(&what, || api.replace(&w.name, &pp, &obj))
                        .await
                }
                Err(ClusterError::NotFound(m)) if expected.is_some() => {
                    Err(ClusterError::NotFound(m))
                }
                Err(ClusterError::NotFound(_)) => {
                    self.retry.run(&what, || api.create(&pp, &obj)).await
                }
                Err(e) => Err(e),
            }
        };
        let written = if expected.is_some() {
            attempt().await?
        } else {
            on_conflict(&what, attempt).await?
        };
        Ok(written.metadata.resource_version.unwrap_or_default())
    }
}
