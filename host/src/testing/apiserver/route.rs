//! Kubernetes REST paths and query parameters, parsed.

use std::collections::HashMap;

/// `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}` and the
/// `/apis/{group}/{version}/...` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The path after `pods/{name}:{port}/proxy` (subresource `proxy`).
    pub proxy_path: Option<String>,
}

impl Route {
    pub fn parse(path: &str) -> Option<Route> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
            ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
            _ => return None,
        };
        let s = |i: usize| rest.get(i).map(|s| s.to_string());
        let route = match rest {
            [] => return None,
            ["namespaces", ns, "pods", name, "proxy", tail @ ..] => Route {
                group,
                version,
                namespace: Some(ns.to_string()),
                resource: "pods".into(),
                name: Some(name.to_string()),
                subresource: Some("proxy".into()),
                proxy_path: Some(format!("/{}", tail.join("/"))),
            },
            ["namespaces"] | ["namespaces", _] => Route {
                group,
                version,
                namespace: None,
                resource: "namespaces".into(),
                name: s(1),
                subresource: None,
                proxy_path: None,
            },
            ["namespaces", ns, _resource, ..] if rest.len() <= 5 => Route {
                group,
                version,
                namespace: Some(ns.to_string()),
                resource: s(2)?,
                name: s(3),
                subresource: s(4),
                proxy_path: None,
            },
            _ if rest.len() <= 3 => Route {
                group,
                version,
                namespace: None,
                resource: s(0)?,
                name: s(1),
                subresource: s(2),
                proxy_path: None,
            },
            _ => return None,
        };
        Some(route)
    }

    /// "apps/v1" or "v1".
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Decoded query parameters (`labelSelector`, `fieldSelector`, `watch`, ...).
pub fn query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_path_shapes() {
        let r = Route::parse("/apis/apps/v1/namespaces/web/deployments/api").unwrap();
        assert_eq!(
            (
                r.group.as_str(),
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref()
            ),
            ("apps", Some("web"), "deployments", Some("api"))
        );
        let r = Route::parse("/api/v1/namespaces/linkerd/pods/id-0:9990/proxy/metrics").unwrap();
        assert_eq!(r.name.as_deref(), Some("id-0:9990"));
        assert_eq!(r.subresource.as_deref(), Some("proxy"));
        assert_eq!(r.proxy_path.as_deref(), Some("/metrics"));
        let r = Route::parse("/api/v1/namespaces/web/pods/p/eviction").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("eviction"));
        let r = Route::parse("/api/v1/namespaces/web").unwrap();
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("web"), None)
        );
        let r = Route::parse("/apis/apps/v1/deployments").unwrap();
        assert_eq!((r.resource.as_str(), r.namespace), ("deployments", None));
        let r =
            Route::parse("/apis/cert-manager.io/v1/namespaces/x/certificates/c/status").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert!(Route::parse("/healthz").is_none());
    }
}
