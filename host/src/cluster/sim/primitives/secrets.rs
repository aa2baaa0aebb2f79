//! Secrets (read, write and delete with optimistic concurrency, as the
//! API server checks resourceVersion and the immutable type) and
//! ConfigMaps (read, and create or replace with the same check).

use crate::cluster::sim::world::{ConfigMapRec, SecretRec};
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{ConfigMap, ConfigMapWrite, KeyValue, Secret, SecretWrite};

use super::super::SimCluster;
use super::kv;

impl SimCluster {
    pub(in crate::cluster::sim) fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Secret> {
        let w = self.lock();
        let s = w
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| ClusterError::NotFound(format!("Secret {namespace}/{name}")))?;
        Ok(Secret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            type_: s.type_.clone(),
            data: s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            labels: kv(&s.labels),
            annotations: kv(&s.annotations),
            resource_version: s.resource_version.to_string(),
        })
    }

    pub(in crate::cluster::sim) fn put_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
        let mut w = self.lock();
        let key = (secret.namespace.clone(), secret.name.clone());
        let what = format!("Secret {}/{}", secret.namespace, secret.name);
        if secret.namespace.is_empty() || secret.name.is_empty() {
            return Err(ClusterError::Invalid(format!(
                "{what}: namespace and name are required"
            )));
        }
        match (&secret.expected_resource_version, w.secrets.get(&key)) {
            (Some(_), None) => return Err(ClusterError::NotFound(what)),
            (Some(expected), Some(existing))
                if *expected != existing.resource_version.to_string() =>
            {
                return Err(ClusterError::Conflict(format!(
                    "{what}: the object has been modified (resourceVersion {} is not {expected}); read it again and retry",
                    existing.resource_version
                )));
            }
            _ => {}
        }
        let type_ = if secret.type_.is_empty() {
            "Opaque".to_string()
        } else {
            secret.type_
        };
        if let Some(existing) = w.secrets.get(&key)
            && existing.type_ != type_
        {
            return Err(ClusterError::Invalid(format!(
                "{what}: type: field is immutable ({} cannot become {type_})",
                existing.type_
            )));
        }
        let rv = w.next_rv();
        w.secrets.insert(
            key,
            SecretRec {
                type_,
                data: secret.data.into_iter().collect(),
                labels: secret
                    .labels
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
                annotations: secret
                    .annotations
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
                resource_version: rv,
            },
        );
        w.secret_changed(&secret.namespace, &secret.name);
        Ok(rv.to_string())
    }

    pub(in crate::cluster::sim) fn remove_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        let mut w = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let what = format!("Secret {namespace}/{name}");
        match w.secrets.get(&key) {
            None => return Err(ClusterError::NotFound(what)),
            Some(s) if s.resource_version.to_string() != resource_version => {
                return Err(ClusterError::Conflict(format!(
                    "{what}: the object has been modified (resourceVersion {} is not {resource_version})",
                    s.resource_version
                )));
            }
            Some(_) => {}
        }
        w.secrets.remove(&key);
        w.secret_changed(namespace, name);
        Ok(())
    }

    pub(in crate::cluster::sim) fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<ConfigMap> {
        let w = self.lock();
        let c = w
            .config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| ClusterError::NotFound(format!("ConfigMap {namespace}/{name}")))?;
        Ok(ConfigMap {
            namespace: namespace.to_string(),
            name: name.to_string(),
            data: c
                .data
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.to_string()))
                .collect(),
            labels: kv(&c.labels),
            annotations: kv(&c.annotations),
            resource_version: c.resource_version.to_string(),
        })
    }

    /// Create or replace a ConfigMap as the API server does: a stale
    /// expected resourceVersion is a conflict, one for a missing object is
    /// not found, and a replace sets data, labels and annotations whole.
    /// What the world does with it (the injector reads the trust roots,
    /// trust-manager restores a target it owns) is `World::config_map_written`.
    pub(in crate::cluster::sim) fn put_config_map_write(
        &self,
        cm: ConfigMapWrite,
    ) -> ClusterResult<String> {
        let mut w = self.lock();
        let key = (cm.namespace.clone(), cm.name.clone());
        let what = format!("ConfigMap {}/{}", cm.namespace, cm.name);
        if cm.namespace.is_empty() || cm.name.is_empty() {
            return Err(ClusterError::Invalid(format!(
                "{what}: namespace and name are required"
            )));
        }
        match (&cm.expected_resource_version, w.config_maps.get(&key)) {
            (Some(_), None) => return Err(ClusterError::NotFound(what)),
            (Some(expected), Some(existing))
                if *expected != existing.resource_version.to_string() =>
            {
                return Err(ClusterError::Conflict(format!(
                    "{what}: the object has been modified (resourceVersion {} is not {expected}); read it again and retry",
                    existing.resource_version
                )));
            }
            _ => {}
        }
        let pairs = |kvs: Vec<KeyValue>| kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
        let mut rec = ConfigMapRec {
            data: cm
                .data
                .into_iter()
                .map(|kv| (kv.key, std::sync::Arc::from(kv.value)))
                .collect(),
            labels: pairs(cm.labels),
            annotations: pairs(cm.annotations),
            resource_version: 0,
        };
        // An update that changes nothing is no write: the API server keeps
        // the resourceVersion and tells no watcher (Kubernetes apiserver
        // `pkg/storage/etcd3/store.go`, `GuaranteedUpdate`).
        if let Some(existing) = w.config_maps.get(&key)
            && (&existing.data, &existing.labels, &existing.annotations)
                == (&rec.data, &rec.labels, &rec.annotations)
        {
            return Ok(existing.resource_version.to_string());
        }
        let rv = w.next_rv();
        rec.resource_version = rv;
        w.config_maps.insert(key, rec);
        w.config_map_written(&cm.namespace, &cm.name);
        Ok(rv.to_string())
    }
}
