//! The request-info, audit and authorizer rules checked against the API
//! server's behaviour on small hand-written manifests.

use serde_json::{Value, json};

use super::manifests::RBAC_API;
use super::*;

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
    let subject = json!([{"kind": "ServiceAccount", "name": "rotor", "namespace": "rotor-system"}]);
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
