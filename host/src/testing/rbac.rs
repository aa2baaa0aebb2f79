//! Kubernetes RBAC evaluated offline, so a test can prove a chart's RBAC
//! against the requests a run really sent instead of trusting a reviewer.
//!
//! Two halves, each mirroring the API server:
//!
//! - [`RequestAttributes::from_http`]: what the API server's request-info
//!   step (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`) makes of
//!   an HTTP request: verb, API group, resource, subresource, namespace,
//!   name. GET on a collection is `list`, with `watch=true` `watch`; DELETE
//!   on a collection is `deletecollection`; a `metadata.name=` field
//!   selector names the object of a list or watch.
//! - [`Rbac::authorize`]: the RBAC authorizer
//!   (`plugin/pkg/auth/authorizer/rbac`): a request is allowed when a rule
//!   of a role bound to the subject matches verb, group, resource (or
//!   `resource/subresource`) and, if the rule lists `resourceNames`, the
//!   request's name. A request without a name (list, watch, create on a
//!   collection) never matches a rule with `resourceNames`. ClusterRoles
//!   bound by a ClusterRoleBinding apply everywhere; a RoleBinding applies
//!   its Role or ClusterRole in its own namespace only, never to
//!   cluster-scoped requests.
//!
//! [`RequestAttributes::from_audit`] reads the same attributes from a real
//! API server's audit log, so the end-to-end tests measure the chart's
//! rule coverage with the requests the real server saw.
//!
//! Non-resource URLs (`/version`, `/api`, `/apis/...` discovery) are left
//! out: every authenticated user may read them (`system:discovery`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
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
fn group_label(group: &str) -> &str {
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

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    fn verb_entries<'a>(&'a self, r: &'a RequestAttributes) -> impl Iterator<Item = &'a String> {
        self.verbs.iter().filter(|v| *v == "*" || **v == r.verb)
    }

    fn group_entries<'a>(&'a self, r: &'a RequestAttributes) -> impl Iterator<Item = &'a String> {
        self.api_groups
            .iter()
            .filter(|g| *g == "*" || **g == r.api_group)
    }

    fn resource_entries<'a>(
        &'a self,
        r: &'a RequestAttributes,
    ) -> impl Iterator<Item = &'a String> + 'a {
        let full = r.full_resource();
        self.resources.iter().filter(move |res| {
            *res == "*"
                || **res == full
                || (!r.subresource.is_empty() && **res == format!("*/{}", r.subresource))
        })
    }

    /// `Some(None)`: the rule names no objects; `Some(Some(n))`: it names
    /// the request's object; `None`: it names others (or the request none).
    fn name_entry<'a>(&'a self, r: &RequestAttributes) -> Option<Option<&'a String>> {
        if self.resource_names.is_empty() {
            return Some(None);
        }
        self.resource_names
            .iter()
            .find(|n| !r.name.is_empty() && **n == r.name)
            .map(Some)
    }

    /// Whether this rule alone allows the request.
    pub fn allows(&self, r: &RequestAttributes) -> bool {
        self.verb_entries(r).next().is_some()
            && self.group_entries(r).next().is_some()
            && self.resource_entries(r).next().is_some()
            && self.name_entry(r).is_some()
    }
}

/// The smallest piece of a rule: one verb on one resource of one group,
/// for one named object (or any). Roles of one kind and name count as one
/// rule set wherever they are rendered: a chart renders them from one
/// template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleUnit {
    /// `ClusterRole/name` or `Role/name`.
    pub role: String,
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    /// `None`: the rule lists no `resourceNames`.
    pub resource_name: Option<String>,
}

impl fmt::Display for RuleUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = group_label(&self.api_group);
        write!(
            f,
            "{}: {} {group} {} {}",
            self.role,
            self.verb,
            self.resource,
            self.resource_name.as_deref().unwrap_or("*")
        )
    }
}

/// A ServiceAccount, the subject whose requests are authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleDoc {
    metadata: Meta,
    #[serde(default)]
    rules: Vec<PolicyRule>,
    #[serde(default)]
    aggregation_rule: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Subject {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingDoc {
    metadata: Meta,
    role_ref: RoleRef,
    #[serde(default)]
    subjects: Vec<Subject>,
}

/// A role's rules, where they apply.
struct Grant<'a> {
    role: String,
    rules: &'a [PolicyRule],
}

/// The Roles, ClusterRoles and bindings of a set of manifests.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    roles: Vec<(String, RoleDoc)>,
    bindings: Vec<(String, BindingDoc)>,
}

const RBAC_API: &str = "rbac.authorization.k8s.io/v1";

impl Rbac {
    /// Pick the RBAC objects out of rendered manifests (other kinds are
    /// skipped). A malformed RBAC object is an error naming it.
    pub fn from_manifests(docs: &[Value]) -> Result<Rbac, String> {
        let mut rbac = Rbac::default();
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            if !matches!(
                kind,
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            ) {
                continue;
            }
            let what = format!(
                "{kind} {}/{}",
                doc["metadata"]["namespace"].as_str().unwrap_or_default(),
                doc["metadata"]["name"].as_str().unwrap_or_default()
            );
            if doc["apiVersion"] != RBAC_API {
                return Err(format!("{what}: apiVersion is not {RBAC_API}"));
            }
            match kind {
                "Role" | "ClusterRole" => {
                    let role: RoleDoc =
                        serde_json::from_value(doc.clone()).map_err(|e| format!("{what}: {e}"))?;
                    if role.aggregation_rule.is_some() {
                        return Err(format!("{what}: aggregationRule is not evaluated here"));
                    }
                    if kind == "Role" && role.metadata.namespace.is_empty() {
                        return Err(format!("{what}: a Role needs a namespace"));
                    }
                    rbac.roles.push((kind.to_string(), role));
                }
                _ => {
                    let binding: BindingDoc =
                        serde_json::from_value(doc.clone()).map_err(|e| format!("{what}: {e}"))?;
                    if kind == "ClusterRoleBinding" && binding.role_ref.kind != "ClusterRole" {
                        return Err(format!(
                            "{what}: a ClusterRoleBinding must refer to a ClusterRole"
                        ));
                    }
                    if kind == "RoleBinding" && binding.metadata.namespace.is_empty() {
                        return Err(format!("{what}: a RoleBinding needs a namespace"));
                    }
                    rbac.bindings.push((kind.to_string(), binding));
                }
            }
        }
        Ok(rbac)
    }

    fn find_role(&self, kind: &str, namespace: &str, name: &str) -> Option<&RoleDoc> {
        self.roles
            .iter()
            .find(|(k, r)| {
                k == kind
                    && r.metadata.name == name
                    && (kind == "ClusterRole" || r.metadata.namespace == namespace)
            })
            .map(|(_, r)| r)
    }

    /// The bindings naming `sa`: whether each is a ClusterRoleBinding, the
    /// binding, its role (`None`: not among the manifests) and `Kind/name`.
    fn bound<'a>(
        &'a self,
        sa: &'a ServiceAccount,
    ) -> impl Iterator<Item = (bool, &'a BindingDoc, Option<&'a RoleDoc>, String)> + 'a {
        self.bindings
            .iter()
            .filter(move |(_, b)| b.subjects.iter().any(|s| names(s, sa)))
            .map(|(kind, b)| {
                let cluster_wide = kind == "ClusterRoleBinding";
                let ns = if cluster_wide {
                    ""
                } else {
                    &b.metadata.namespace
                };
                let role = self.find_role(&b.role_ref.kind, ns, &b.role_ref.name);
                (
                    cluster_wide,
                    b,
                    role,
                    format!("{}/{}", b.role_ref.kind, b.role_ref.name),
                )
            })
    }

    /// The rules that apply to `sa` in `namespace` ("" = cluster-scoped
    /// requests: ClusterRoleBindings only).
    fn grants<'a>(&'a self, sa: &'a ServiceAccount, namespace: &str) -> Vec<Grant<'a>> {
        self.bound(sa)
            .filter(|(cluster_wide, b, _, _)| {
                *cluster_wide || (!namespace.is_empty() && b.metadata.namespace == namespace)
            })
            .filter_map(|(_, _, role, id)| {
                role.map(|r| Grant {
                    role: id,
                    rules: &r.rules,
                })
            })
            .collect()
    }

    /// Whether `sa` may make the request, and by which rule units: empty
    /// means denied.
    pub fn authorize(&self, sa: &ServiceAccount, r: &RequestAttributes) -> BTreeSet<RuleUnit> {
        let mut used = BTreeSet::new();
        for grant in self.grants(sa, &r.namespace) {
            for rule in grant.rules.iter().filter(|rule| rule.allows(r)) {
                let Some(name) = rule.name_entry(r) else {
                    continue;
                };
                for verb in rule.verb_entries(r) {
                    for group in rule.group_entries(r) {
                        for resource in rule.resource_entries(r) {
                            used.insert(RuleUnit {
                                role: grant.role.clone(),
                                verb: verb.clone(),
                                api_group: group.clone(),
                                resource: resource.clone(),
                                resource_name: name.cloned(),
                            });
                        }
                    }
                }
            }
        }
        used
    }

    /// Every rule unit of every role bound to `sa`, anywhere.
    pub fn units(&self, sa: &ServiceAccount) -> BTreeSet<RuleUnit> {
        let mut out = BTreeSet::new();
        for (_, _, role, id) in self.bound(sa) {
            for rule in role.iter().flat_map(|r| &r.rules) {
                let names: Vec<Option<String>> = if rule.resource_names.is_empty() {
                    vec![None]
                } else {
                    rule.resource_names.iter().cloned().map(Some).collect()
                };
                for verb in &rule.verbs {
                    for group in &rule.api_groups {
                        for resource in &rule.resources {
                            for name in &names {
                                out.insert(RuleUnit {
                                    role: id.clone(),
                                    verb: verb.clone(),
                                    api_group: group.clone(),
                                    resource: resource.clone(),
                                    resource_name: name.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Bindings of `sa` whose role is not among the manifests (Kubernetes
    /// grants nothing through them; a chart that renders one has a typo).
    pub fn dangling_bindings(&self, sa: &ServiceAccount) -> Vec<String> {
        self.bound(sa)
            .filter(|(_, _, role, _)| role.is_none())
            .map(|(_, b, _, id)| format!("{}/{} -> {id}", b.metadata.namespace, b.metadata.name))
            .collect()
    }

    /// How many rules (as written) the roles bound to `sa` carry, counted
    /// once per binding.
    pub fn rule_count(&self, sa: &ServiceAccount) -> usize {
        self.bound(sa)
            .filter_map(|(_, _, role, _)| role.map(|r| r.rules.len()))
            .sum()
    }
}

/// Whether a binding's subject is `sa`: by ServiceAccount, by its user
/// name, or by one of the groups every ServiceAccount is in.
fn names(s: &Subject, sa: &ServiceAccount) -> bool {
    match s.kind.as_str() {
        "ServiceAccount" => s.name == sa.name && s.namespace == sa.namespace,
        "User" => s.name == format!("system:serviceaccount:{}:{}", sa.namespace, sa.name),
        "Group" => {
            s.name == "system:serviceaccounts"
                || s.name == "system:authenticated"
                || s.name == format!("system:serviceaccounts:{}", sa.namespace)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(method: &str, path: &str, query: Option<&str>) -> RequestAttributes {
        RequestAttributes::from_http(method, path, query).unwrap()
    }

    fn tuple(r: &RequestAttributes) -> (&str, &str, &str, &str, &str, &str) {
        (
            &r.verb,
            &r.api_group,
            &r.resource,
            &r.subresource,
            &r.namespace,
            &r.name,
        )
    }

    #[test]
    fn audit_events_give_the_attributes_the_server_authorized() {
        // Shapes as kube-apiserver writes them at the Metadata level.
        let patch = json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "verb": "patch", "requestURI": "/apis/apps/v1/namespaces/web/deployments/api",
            "objectRef": {"resource": "deployments", "namespace": "web", "name": "api",
                          "apiGroup": "apps", "apiVersion": "v1"},
            "responseStatus": {"code": 200}
        });
        let r = RequestAttributes::from_audit(&patch).unwrap();
        assert_eq!(
            tuple(&r),
            ("patch", "apps", "deployments", "", "web", "api")
        );
        let evict = json!({
            "verb": "create",
            "objectRef": {"resource": "pods", "namespace": "web", "name": "p",
                          "apiVersion": "v1", "subresource": "eviction"}
        });
        let r = RequestAttributes::from_audit(&evict).unwrap();
        assert_eq!(tuple(&r), ("create", "", "pods", "eviction", "web", "p"));
        let discovery = json!({"verb": "get", "requestURI": "/apis"});
        assert_eq!(RequestAttributes::from_audit(&discovery), None);
    }

    #[test]
    fn request_info_follows_the_api_server() {
        let r = info("GET", "/api/v1/namespaces", None);
        assert_eq!(tuple(&r), ("list", "", "namespaces", "", "", ""));
        let r = info("GET", "/api/v1/namespaces/web", None);
        assert_eq!(tuple(&r), ("get", "", "namespaces", "", "web", "web"));
        let r = info(
            "GET",
            "/apis/apps/v1/namespaces/web/deployments",
            Some("labelSelector=a%3Db"),
        );
        assert_eq!(tuple(&r), ("list", "apps", "deployments", "", "web", ""));
        let r = info("GET", "/apis/apps/v1/deployments", None);
        assert_eq!(tuple(&r), ("list", "apps", "deployments", "", "", ""));
        let r = info(
            "GET",
            "/apis/apps/v1/namespaces/web/deployments",
            Some("watch=true&fieldSelector=metadata.name%3Dapi&timeoutSeconds=240"),
        );
        assert_eq!(
            tuple(&r),
            ("watch", "apps", "deployments", "", "web", "api")
        );
        let r = info(
            "GET",
            "/apis/apps/v1/namespaces/web/deployments",
            Some("fieldSelector=metadata.name%3D%3Dapi"),
        );
        assert_eq!(tuple(&r), ("list", "apps", "deployments", "", "web", "api"));
        let r = info(
            "GET",
            "/api/v1/namespaces/web/pods",
            Some("fieldSelector=metadata.name!%3Dx"),
        );
        assert_eq!(r.name, "", "only an exact match names the object");
        // A named GET stays a get whatever the query says.
        let r = info("GET", "/api/v1/namespaces/web/pods/p", Some("watch=true"));
        assert_eq!(r.verb, "get");
        let r = info("POST", "/api/v1/namespaces/web/configmaps", None);
        assert_eq!(tuple(&r), ("create", "", "configmaps", "", "web", ""));
        let r = info("POST", "/api/v1/namespaces/web/pods/p/eviction", None);
        assert_eq!(tuple(&r), ("create", "", "pods", "eviction", "web", "p"));
        let r = info(
            "PUT",
            "/apis/cert-manager.io/v1/namespaces/l/certificates/c/status",
            None,
        );
        assert_eq!(
            tuple(&r),
            (
                "update",
                "cert-manager.io",
                "certificates",
                "status",
                "l",
                "c"
            )
        );
        let r = info(
            "PATCH",
            "/api/v1/namespaces/l/secrets/s",
            Some("fieldManager=rotor"),
        );
        assert_eq!(tuple(&r), ("patch", "", "secrets", "", "l", "s"));
        let r = info("DELETE", "/api/v1/namespaces/web/pods/p", None);
        assert_eq!(r.verb, "delete");
        let r = info("DELETE", "/api/v1/namespaces/web/pods", None);
        assert_eq!(r.verb, "deletecollection");
        let r = info("GET", "/api/v1/watch/namespaces/web/pods", None);
        assert_eq!(tuple(&r), ("watch", "", "pods", "", "web", ""));
        let r = info("PUT", "/api/v1/namespaces/web/finalize", None);
        assert_eq!(
            tuple(&r),
            ("update", "", "namespaces", "finalize", "web", "web")
        );
        for discovery in [
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps/v1",
            "/healthz",
        ] {
            assert_eq!(
                RequestAttributes::from_http("GET", discovery, None),
                None,
                "{discovery}"
            );
        }
        assert_eq!(
            info(
                "GET",
                "/apis/apps/v1/namespaces/web/deployments",
                Some("watch=1")
            )
            .verb,
            "watch"
        );
    }

    fn sa() -> ServiceAccount {
        ServiceAccount {
            namespace: "rotor-system".into(),
            name: "rotor".into(),
        }
    }

    fn manifests() -> Vec<Value> {
        let subject =
            json!([{"kind": "ServiceAccount", "name": "rotor", "namespace": "rotor-system"}]);
        vec![
            json!({"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": "rotor"},
            "rules": [
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
                {"apiGroups": ["cert-manager.io"], "resources": ["certificates/status"], "verbs": ["update"]},
            ]}),
            json!({"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": "rotor"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "rotor"},
                   "subjects": subject}),
            json!({"apiVersion": RBAC_API, "kind": "Role", "metadata": {"name": "state", "namespace": "rotor-system"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["rotor-progress"], "verbs": ["get", "delete"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
            ]}),
            json!({"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": "state", "namespace": "rotor-system"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "state"},
                   "subjects": subject}),
            // Bound to someone else: grants rotor nothing.
            json!({"apiVersion": RBAC_API, "kind": "Role", "metadata": {"name": "other", "namespace": "rotor-system"},
                   "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]}),
            json!({"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": "other", "namespace": "rotor-system"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "other"},
                   "subjects": [{"kind": "ServiceAccount", "name": "bootstrap", "namespace": "rotor-system"}]}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        ]
    }

    fn allowed(rbac: &Rbac, method: &str, path: &str, query: Option<&str>) -> bool {
        !rbac.authorize(&sa(), &info(method, path, query)).is_empty()
    }

    #[test]
    fn authorizes_by_verb_group_resource_and_scope() {
        let rbac = Rbac::from_manifests(&manifests()).unwrap();
        assert!(allowed(&rbac, "GET", "/api/v1/namespaces", None));
        assert!(
            !allowed(&rbac, "GET", "/api/v1/namespaces/web", None),
            "list does not grant get"
        );
        assert!(allowed(
            &rbac,
            "PATCH",
            "/apis/apps/v1/namespaces/web/deployments/api",
            None
        ));
        assert!(!allowed(
            &rbac,
            "PATCH",
            "/apis/apps/v1/namespaces/web/statefulsets/db",
            None
        ));
        assert!(
            !allowed(
                &rbac,
                "PATCH",
                "/apis/extensions/v1beta1/namespaces/web/deployments/api",
                None
            ),
            "the group must match"
        );
        // The subresource is its own resource.
        assert!(allowed(
            &rbac,
            "PUT",
            "/apis/cert-manager.io/v1/namespaces/l/certificates/c/status",
            None
        ));
        assert!(!allowed(
            &rbac,
            "PUT",
            "/apis/cert-manager.io/v1/namespaces/l/certificates/c",
            None
        ));
        // A RoleBinding grants in its own namespace only.
        assert!(allowed(
            &rbac,
            "POST",
            "/api/v1/namespaces/rotor-system/configmaps",
            None
        ));
        assert!(!allowed(
            &rbac,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            None
        ));
        assert!(
            !allowed(&rbac, "GET", "/api/v1/configmaps", None),
            "not cluster-wide"
        );
        // Another subject's role grants rotor nothing.
        assert!(!allowed(
            &rbac,
            "GET",
            "/api/v1/namespaces/rotor-system/secrets/s",
            None
        ));
        let other = ServiceAccount {
            namespace: "rotor-system".into(),
            name: "bootstrap".into(),
        };
        assert!(
            !rbac
                .authorize(
                    &other,
                    &info("GET", "/api/v1/namespaces/rotor-system/secrets/s", None)
                )
                .is_empty()
        );
    }

    #[test]
    fn resource_names_match_only_named_requests() {
        let rbac = Rbac::from_manifests(&manifests()).unwrap();
        let cm = "/api/v1/namespaces/rotor-system/configmaps";
        assert!(allowed(&rbac, "GET", &format!("{cm}/rotor-progress"), None));
        assert!(allowed(
            &rbac,
            "DELETE",
            &format!("{cm}/rotor-progress"),
            None
        ));
        assert!(!allowed(
            &rbac,
            "GET",
            &format!("{cm}/something-else"),
            None
        ));
        assert!(
            !allowed(&rbac, "PUT", &format!("{cm}/rotor-progress"), None),
            "verb still matters"
        );
        // A list is unnamed, so the named rule does not cover it...
        assert!(!allowed(&rbac, "GET", cm, None));
        // ...unless a field selector pins the name (and the verb is granted).
        let rule = PolicyRule {
            verbs: vec!["list".into()],
            api_groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            resource_names: vec!["rotor-progress".into()],
            non_resource_urls: vec![],
        };
        assert!(rule.allows(&info(
            "GET",
            cm,
            Some("fieldSelector=metadata.name%3Drotor-progress")
        )));
        assert!(!rule.allows(&info("GET", cm, None)));
        // Deleting the collection is not deleting the named object.
        assert!(!allowed(&rbac, "DELETE", cm, None));
    }

    #[test]
    fn wildcards_match_everything_they_stand_for() {
        let rule = PolicyRule {
            verbs: vec!["*".into()],
            api_groups: vec!["*".into()],
            resources: vec!["*/status".into()],
            resource_names: vec![],
            non_resource_urls: vec![],
        };
        assert!(rule.allows(&info(
            "PUT",
            "/apis/cert-manager.io/v1/namespaces/l/certificates/c/status",
            None
        )));
        assert!(!rule.allows(&info(
            "PUT",
            "/apis/cert-manager.io/v1/namespaces/l/certificates/c",
            None
        )));
    }

    #[test]
    fn reports_the_units_a_request_uses_and_all_units() {
        let rbac = Rbac::from_manifests(&manifests()).unwrap();
        let used = rbac.authorize(
            &sa(),
            &info(
                "GET",
                "/api/v1/namespaces/rotor-system/configmaps/rotor-progress",
                None,
            ),
        );
        let used: Vec<String> = used.iter().map(ToString::to_string).collect();
        assert_eq!(used, ["Role/state: get core configmaps rotor-progress"]);
        let all: Vec<String> = rbac.units(&sa()).iter().map(ToString::to_string).collect();
        assert_eq!(all.len(), 7, "{all:?}");
        assert!(
            all.contains(&"Role/state: create core configmaps *".to_string()),
            "{all:?}"
        );
        assert!(
            !all.iter().any(|u| u.contains("secrets")),
            "the other subject's role is not rotor's: {all:?}"
        );
        assert_eq!(rbac.rule_count(&sa()), 5);
    }

    #[test]
    fn bad_rbac_objects_are_named() {
        let mut docs = manifests();
        docs.push(json!({"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": "broken", "namespace": "x"}}));
        let e = Rbac::from_manifests(&docs).unwrap_err();
        assert!(
            e.contains("RoleBinding x/broken") && e.contains("roleRef"),
            "{e}"
        );
        let docs = vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1beta1", "kind": "ClusterRole", "metadata": {"name": "old"}}),
        ];
        let e = Rbac::from_manifests(&docs).unwrap_err();
        assert!(e.contains("ClusterRole /old: apiVersion"), "{e}");
        let mut docs = manifests();
        docs.push(json!({"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": "typo", "namespace": "rotor-system"},
                         "roleRef": {"kind": "Role", "name": "stat"},
                         "subjects": [{"kind": "ServiceAccount", "name": "rotor", "namespace": "rotor-system"}]}));
        let rbac = Rbac::from_manifests(&docs).unwrap();
        assert_eq!(
            rbac.dangling_bindings(&sa()),
            ["rotor-system/typo -> Role/stat"]
        );
    }
}
