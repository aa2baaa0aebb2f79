//! resourceVersions for objects rebuilt from the backing cluster's records.
//!
//! The trait's records carry no version (except Secrets and ConfigMaps), so
//! each rebuilt object is fingerprinted: an unchanged object keeps its
//! version, a changed one gets the next value of one global counter. Versions
//! therefore increase in time order, which is what watches resume from.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;

#[derive(Debug, Default)]
pub struct Versions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    counter: u64,
    seen: HashMap<String, (u64, u64)>,
}

fn fingerprint(obj: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    obj.to_string().hash(&mut h);
    h.finish()
}

impl Versions {
    /// Set `metadata.resourceVersion` on `obj` (which must not carry one yet).
    pub fn stamp(&self, key: &str, obj: &mut Value) {
        let fp = fingerprint(obj);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let rv = match inner.seen.get(key) {
            Some(&(f, rv)) if f == fp => rv,
            _ => {
                inner.counter += 1;
                let rv = inner.counter;
                inner.seen.insert(key.to_string(), (fp, rv));
                rv
            }
        };
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
    }

    /// A fresh version for objects the server stores itself.
    pub fn next(&self) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.counter += 1;
        inner.counter
    }

    /// The latest version handed out (a list's resourceVersion).
    pub fn current(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unchanged_objects_keep_their_version() {
        let v = Versions::default();
        let mut a = json!({"metadata": {"name": "a"}, "spec": 1});
        v.stamp("a", &mut a);
        let mut again = json!({"metadata": {"name": "a"}, "spec": 1});
        v.stamp("a", &mut again);
        assert_eq!(
            a["metadata"]["resourceVersion"],
            again["metadata"]["resourceVersion"]
        );
        let mut changed = json!({"metadata": {"name": "a"}, "spec": 2});
        v.stamp("a", &mut changed);
        assert_ne!(
            a["metadata"]["resourceVersion"],
            changed["metadata"]["resourceVersion"]
        );
    }
}
