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
//!
//! One file per concept: `request` (what a request is, from HTTP or an
//! audit event), `rules` (rules, rule units and the subject),
//! `manifests` (the Roles and bindings read from rendered chart YAML) and
//! `authorize` (the authorizer over them).

mod authorize;
mod manifests;
mod request;
mod rules;
#[cfg(test)]
mod tests;

pub use manifests::Rbac;
pub use request::RequestAttributes;
pub use rules::{PolicyRule, RuleUnit, ServiceAccount};
