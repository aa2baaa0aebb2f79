//! Objects the server keeps itself: kinds the `Cluster` trait has no
//! records for (Leases, trust-manager Bundles, Issuers, ...), created by
//! clients or seeded by a test.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::status::ApiError;
use super::versions::Versions;

/// (resource, namespace, name); resource as `group/plural` or `plural` for core.
type Key = (String, String, String);

#[derive(Debug, Default)]
pub struct Store {
    objects: Mutex<BTreeMap<Key, Value>>,
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn rv_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Value>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .get(&(resource.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    pub fn list(&self, resource: &str, ns: Option<&str>) -> Vec<Value> {
        self.lock()
            .iter()
            .filter(|((r, n, _), _)| r == resource && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Seed or overwrite without version checks.
    pub fn put(&self, resource: &str, ns: &str, mut obj: Value, versions: &Versions) {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        obj["metadata"]["resourceVersion"] = Value::String(versions.next().to_string());
        self.lock()
            .insert((resource.to_string(), ns.to_string(), name), obj);
    }

    pub fn create(
        &self,
        resource: &str,
        ns: &str,
        mut obj: Value,
        versions: &Versions,
    ) -> Result<Value, ApiError> {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::new(422, "Invalid", "metadata.name: Required value"))?
            .to_string();
        let key = (resource.to_string(), ns.to_string(), name.clone());
        let mut objects = self.lock();
        if objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource, &name));
        }
        if !ns.is_empty() {
            obj["metadata"]["namespace"] = Value::String(ns.to_string());
        }
        obj["metadata"]["resourceVersion"] = Value::String(versions.next().to_string());
        obj["metadata"]["creationTimestamp"] = Value::String(
            jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_default()
                .to_string(),
        );
        objects.insert(key, obj.clone());
        Ok(obj)
    }

    /// PUT: the body's resourceVersion, when set, must be the stored one.
    pub fn update(
        &self,
        resource: &str,
        ns: &str,
        name: &str,
        mut obj: Value,
        versions: &Versions,
    ) -> Result<Value, ApiError> {
        let key = (resource.to_string(), ns.to_string(), name.to_string());
        let mut objects = self.lock();
        let current = objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        if let Some(rv) = rv_of(&obj)
            && Some(rv) != rv_of(current)
        {
            return Err(ApiError::conflict(resource, name));
        }
        obj["metadata"]["resourceVersion"] = Value::String(versions.next().to_string());
        objects.insert(key, obj.clone());
        Ok(obj)
    }

    pub fn patch(
        &self,
        resource: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        versions: &Versions,
    ) -> Result<Value, ApiError> {
        let key = (resource.to_string(), ns.to_string(), name.to_string());
        let mut objects = self.lock();
        let current = objects
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        if let Some(rv) = rv_of(patch)
            && Some(rv) != rv_of(current)
        {
            return Err(ApiError::conflict(resource, name));
        }
        merge_patch(current, patch);
        current["metadata"]["resourceVersion"] = Value::String(versions.next().to_string());
        Ok(current.clone())
    }

    pub fn delete(&self, resource: &str, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.lock()
            .remove(&(resource.to_string(), ns.to_string(), name.to_string()))
            .ok_or_else(|| ApiError::not_found(resource, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut t, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(t, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn stale_updates_conflict() {
        let s = Store::default();
        let v = Versions::default();
        let created = s
            .create("leases", "ns", json!({"metadata": {"name": "l"}}), &v)
            .unwrap();
        let rv = created["metadata"]["resourceVersion"].clone();
        let mut next = created.clone();
        next["spec"] = json!({"holderIdentity": "a"});
        s.update("leases", "ns", "l", next.clone(), &v).unwrap();
        next["metadata"]["resourceVersion"] = rv;
        let e = s.update("leases", "ns", "l", next, &v).unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(
            s.create("leases", "ns", json!({"metadata": {"name": "l"}}), &v)
                .unwrap_err()
                .reason,
            "AlreadyExists"
        );
    }
}
