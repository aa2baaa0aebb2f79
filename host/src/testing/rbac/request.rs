//! What RBAC sees of one request: the API server's request-info step
//! applied to an HTTP request, or the attributes a real API server wrote to
//! its audit log, so both the test API server and the end-to-end tests feed
//! the authorizer the same shape.

use std::fmt;

use serde_json::Value;

/// What RBAC sees of one resource request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestAttributes {
    pub verb: String,
    /// "" for the core group.
    pub api_group: String,
    pub resource: String,
    /// "" when the request is on the object itself.
    pub subresource: String,
    /// "" for cluster-scoped requests.
    pub namespace: String,
    /// "" when the request names no object.
    pub name: String,
}

impl RequestAttributes {
    /// The request-info of an HTTP request; `None` for a non-resource URL.
    pub fn from_http(method: &str, path: &str, query: Option<&str>) -> Option<RequestAttributes> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() < 3 {
            return None;
        }
        let (api_group, rest) = match parts[0] {
            "api" => (String::new(), &parts[2..]),
            "apis" if parts.len() >= 4 => (parts[1].to_string(), &parts[3..]),
            _ => return None,
        };
        let mut rest = rest;
        // `/watch/...` and `/proxy/...` put the verb in the path.
        let path_verb = match rest.first() {
            Some(&v @ ("watch" | "proxy")) if rest.len() >= 2 => {
                rest = &rest[1..];
                Some(v)
            }
            _ => None,
        };
        let mut verb = match path_verb {
            Some(v) => v.to_string(),
            None => match method {
                "POST" => "create",
                "GET" | "HEAD" => "get",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "",
            }
            .to_string(),
        };
        let mut namespace = String::new();
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            namespace = rest[1].to_string();
            // `namespaces/{ns}/status` and `/finalize` are the Namespace's
            // own subresources; anything else is a resource in it.
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        let at = |i: usize| rest.get(i).map_or(String::new(), |s| s.to_string());
        let resource = at(0);
        let name = at(1);
        let subresource = if verb == "proxy" {
            String::new()
        } else {
            at(2)
        };
        let mut attrs = RequestAttributes {
            verb: String::new(),
            api_group,
            resource,
            subresource,
            namespace,
            name,
        };
        let q = query_pairs(query);
        if attrs.name.is_empty() && verb == "get" {
            let watch = q.iter().any(|(k, v)| {
                k == "watch" && matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True")
            });
            verb = if watch { "watch" } else { "list" }.into();
            if let Some((_, selector)) = q.iter().find(|(k, _)| k == "fieldSelector") {
                attrs.name = exact_name(selector).unwrap_or_default();
            }
        }
        if attrs.name.is_empty() && verb == "delete" {
            verb = "deletecollection".into();
        }
        attrs.verb = verb;
        Some(attrs)
    }

    /// The request attributes the real API server recorded for one request
    /// of its audit log (`audit.k8s.io/v1` `Event`, any level from
    /// `Metadata`): its `verb` and `objectRef`. `None` for a non-resource
    /// URL, which has no `objectRef`.
    pub fn from_audit(event: &Value) -> Option<RequestAttributes> {
        let object = event.get("objectRef")?;
        let field = |name: &str| object[name].as_str().unwrap_or_default().to_string();
        Some(RequestAttributes {
            verb: event["verb"].as_str()?.to_string(),
            api_group: field("apiGroup"),
            resource: field("resource"),
            subresource: field("subresource"),
            namespace: field("namespace"),
            name: field("name"),
        })
    }

    /// `resource` or `resource/subresource`, as RBAC rules spell it.
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// How the core group ("") is written in messages.
pub(super) fn group_label(group: &str) -> &str {
    if group.is_empty() { "core" } else { group }
}

impl fmt::Display for RequestAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = group_label(&self.api_group);
        let ns = if self.namespace.is_empty() {
            "(cluster)"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "*"
        } else {
            &self.name
        };
        write!(
            f,
            "{} {group} {} {ns}/{name}",
            self.verb,
            self.full_resource()
        )
    }
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The name a field selector pins with `metadata.name=` (or `==`).
fn exact_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let term = term.trim();
        if term.contains("!=") {
            return None;
        }
        let (field, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        (field.trim() == "metadata.name" && !value.is_empty()).then(|| value.trim().to_string())
    })
}
