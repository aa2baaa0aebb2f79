//! `KubeCluster` against the test API server, backed by the in-memory fake:
//! every primitive over the real wire format.

use std::sync::Arc;
use std::time::Duration;

use rotor::cluster::kube::{KubeCluster, RetryPolicy};
use rotor::cluster::{Cluster, ClusterError, IssuerRef};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState, deployment, linkerd_issuers};
use rotor::wit::{
    Certificate, Condition, EventType, KeyValue, Namespace, ObjectRef, RolloutPhase, SecretWrite,
    WorkloadKind, WorkloadRef,
};

fn certificate(namespace: &str, name: &str) -> Certificate {
    Certificate {
        namespace: namespace.into(),
        name: name.into(),
        secret_name: name.into(),
        issuer_kind: "ClusterIssuer".into(),
        issuer_name: "linkerd-identity-issuer".into(),
        is_ca: true,
        generation: 1,
        ready: true,
        issuing: false,
        revision: Some(1),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Ready".into(),
            message: "Certificate is up to date and has not expired".into(),
            observed_generation: Some(1),
            last_transition_time: Some(900),
        }],
        not_before: Some(900),
        not_after: Some(900 + 48 * 3600),
        renewal_time: Some(900 + 23 * 3600),
        renewal_disabled: false,
    }
}

fn state() -> FakeState {
    let (web, web_pods) = deployment("emojivoto", "web", 3);
    let (mut frozen, _) = deployment("emojivoto", "frozen", 1);
    frozen.paused = true;
    let (identity, identity_pods) = deployment("linkerd", "linkerd-identity", 1);
    FakeState {
        now: 1_000,
        namespaces: vec![
            Namespace {
                name: "emojivoto".into(),
                labels: vec![KeyValue::new("team", "emoji")],
                annotations: vec![KeyValue::new("linkerd.io/inject", "enabled")],
            },
            Namespace {
                name: "linkerd".into(),
                labels: vec![KeyValue::new("linkerd.io/is-control-plane", "true")],
                annotations: vec![],
            },
        ],
        workloads: vec![web, frozen, identity],
        pods: web_pods.into_iter().chain(identity_pods).collect(),
        certificates: vec![
            certificate("cert-manager", "linkerd-trust-anchor"),
            certificate("linkerd", "linkerd-identity-issuer"),
        ],
        pdb_protected: vec!["web-abc12-00000".into()],
        issuers: linkerd_issuers(),
        ..FakeState::default()
    }
}

struct Env {
    fake: Arc<FakeCluster>,
    server: TestApiServer,
    kube: KubeCluster,
}

async fn env_with(opts: ServerOptions) -> Env {
    let fake = Arc::new(FakeCluster::new(state()));
    let server = TestApiServer::start(fake.clone(), opts)
        .await
        .expect("server starts");
    let kube = KubeCluster::new(server.client().expect("client"), "rotor-system")
        .with_clock(server.clock())
        .with_retry(RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            call_timeout: Duration::from_secs(10),
        });
    Env { fake, server, kube }
}

async fn env() -> Env {
    env_with(ServerOptions::clock_untouched()).await
}

#[tokio::test]
async fn lists_namespaces_and_workloads_with_selectors() {
    let e = env().await;
    let all = e.kube.list_namespaces("").await.unwrap();
    assert_eq!(
        all.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["emojivoto", "linkerd"]
    );
    let cp = e
        .kube
        .list_namespaces("linkerd.io/is-control-plane=true")
        .await
        .unwrap();
    assert_eq!(cp.len(), 1);
    assert_eq!(cp[0].name, "linkerd");

    let ws = e
        .kube
        .list_workloads(Some("emojivoto"), None, "")
        .await
        .unwrap();
    assert_eq!(
        ws.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["frozen", "web"]
    );
    let web = e
        .kube
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    let expected = e
        .fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(
        web, expected,
        "a workload survives the round trip through the wire format"
    );
    let none = e
        .kube
        .list_workloads(None, Some(WorkloadKind::StatefulSet), "")
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn missing_objects_are_not_found() {
    let e = env().await;
    let err = e
        .kube
        .get_workload(WorkloadKind::Deployment, "emojivoto", "nope")
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
    let err = e.kube.read_secret("linkerd", "nope").await.unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
    let err = e
        .kube
        .get_workload(WorkloadKind::Deployment, "emojivoto", "Bad/Name")
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn restart_patches_restarted_at_and_refuses_paused() {
    let e = env().await;
    e.kube
        .list_workloads(Some("emojivoto"), None, "")
        .await
        .unwrap();
    e.server.reset_requests();
    let at = e
        .kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(at, 1_000);
    let after = e
        .fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(after.generation, 2);
    assert!(
        after
            .template_annotations
            .iter()
            .any(|kv| kv.key == "kubectl.kubernetes.io/restartedAt")
    );
    // Seen in the list a moment ago: one PATCH with a resourceVersion precondition.
    assert_eq!(e.server.request_total(), 1, "{:?}", e.server.requests());

    let err = e
        .kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "frozen")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::Invalid(ref m) if m.contains("paused")),
        "{err}"
    );
    let frozen = e
        .fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "frozen")
        .await
        .unwrap();
    assert_eq!(frozen.generation, 1);
}

#[tokio::test]
async fn restart_after_a_change_falls_back_to_a_fresh_read() {
    let e = env().await;
    e.kube
        .list_workloads(Some("emojivoto"), None, "")
        .await
        .unwrap();
    // Someone pauses it between our list and our restart.
    e.fake
        .state
        .lock()
        .unwrap()
        .workloads
        .iter_mut()
        .find(|w| w.name == "web")
        .unwrap()
        .paused = true;
    let err = e
        .kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let e = env().await;
    let kube = KubeCluster::new(e.server.client().unwrap(), "rotor-system").with_dry_run(true);
    kube.restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    kube.renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    kube.delete_pod("emojivoto", "web-abc12-00001")
        .await
        .unwrap();
    let web = e
        .fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(web.generation, 1);
    assert!(
        !e.fake
            .get_certificate("linkerd", "linkerd-identity-issuer")
            .await
            .unwrap()
            .issuing
    );
    assert_eq!(
        e.fake.list_pods(Some("emojivoto"), "").await.unwrap().len(),
        3
    );
}

#[tokio::test]
async fn wait_rollout_watches_until_complete() {
    let e = env_with(ServerOptions::default()).await;
    e.kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    let first = e
        .kube
        .rollout_status(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(first.phase, RolloutPhase::Progressing);
    e.server.reset_requests();
    let done = e
        .kube
        .wait_rollout(WorkloadKind::Deployment, "emojivoto", "web", 120)
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete, "{}", done.message);
    assert_eq!(done.message, "deployment \"web\" successfully rolled out");
    let reqs = e.server.requests();
    assert_eq!(
        reqs.get("watch deployments"),
        Some(&1),
        "one watch, no polling: {reqs:?}"
    );
    assert_eq!(e.server.request_total(), 1, "{reqs:?}");
}

#[tokio::test]
async fn wait_rollouts_answers_as_each_finishes_on_watches_kept_open() {
    let e = env_with(ServerOptions::default()).await;
    let reference = |namespace: &str, name: &str| WorkloadRef {
        kind: WorkloadKind::Deployment,
        namespace: namespace.into(),
        name: name.into(),
    };
    let web = reference("emojivoto", "web");
    let identity = reference("linkerd", "linkerd-identity");
    for t in [&web, &identity] {
        e.kube
            .restart_workload(t.kind, &t.namespace, &t.name)
            .await
            .unwrap();
    }
    e.server.reset_requests();
    let mut waiting = vec![web.clone(), identity.clone()];
    while !waiting.is_empty() {
        let finished = e.kube.wait_rollouts(&waiting, 120, false).await.unwrap();
        assert!(!finished.is_empty(), "returns when one finishes");
        for o in &finished {
            assert_eq!(
                o.status.phase,
                RolloutPhase::Complete,
                "{}",
                o.status.message
            );
        }
        let indices: Vec<usize> = finished.iter().map(|o| o.index as usize).collect();
        waiting = waiting
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !indices.contains(i))
            .map(|(_, t)| t)
            .collect();
    }
    // Restarted again, web must not read as finished from the object its
    // open watch last delivered (the previous rollout's).
    e.kube
        .restart_workload(web.kind, &web.namespace, &web.name)
        .await
        .unwrap();
    let done = e
        .kube
        .wait_rollouts(std::slice::from_ref(&web), 120, false)
        .await
        .unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].status.phase, RolloutPhase::Complete);
    let reqs = e.server.requests();
    let now = e
        .kube
        .rollout_status(web.kind, &web.namespace, &web.name)
        .await
        .unwrap();
    assert_eq!(now.phase, RolloutPhase::Complete, "{}", now.message);
    assert_eq!(
        reqs.get("watch deployments"),
        Some(&2),
        "one watch per namespace, kept open across the calls: {reqs:?}"
    );
}

#[tokio::test]
async fn wait_rollout_times_out_as_progressing() {
    let e = env_with(ServerOptions::default()).await;
    e.fake
        .state
        .lock()
        .unwrap()
        .workloads
        .iter_mut()
        .find(|w| w.name == "web")
        .unwrap()
        .desired = 1_000;
    let s = e
        .kube
        .wait_rollout(WorkloadKind::Deployment, "emojivoto", "web", 3)
        .await
        .unwrap();
    assert_eq!(s.phase, RolloutPhase::Progressing);
    assert!(
        s.message.contains("new replicas have been updated"),
        "{}",
        s.message
    );
}

#[tokio::test]
async fn pods_resolve_owners_with_one_replicaset_list() {
    let e = env().await;
    e.server.reset_requests();
    let pods = e
        .kube
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .unwrap();
    assert_eq!(pods.len(), 4);
    let web = pods.iter().find(|p| p.name == "web-abc12-00002").unwrap();
    let owner = web.owner.as_ref().unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", "web")
    );
    assert!(web.ready);
    assert_eq!(web.start_time, Some(1_000));
    assert_eq!(web.containers, ["app", "linkerd-proxy"]);
    let reqs = e.server.requests();
    assert_eq!(reqs.get("list pods"), Some(&1), "{reqs:?}");
    assert_eq!(reqs.get("list replicasets"), Some(&1), "{reqs:?}");
    assert_eq!(e.server.request_total(), 2);

    // Summaries are one pod list too, and keep only what was asked.
    e.server.reset_requests();
    let keys = ["linkerd.io/trust-root-sha256".to_string()];
    let summaries = e
        .kube
        .list_pod_summaries(None, "linkerd.io/control-plane-ns=linkerd", &keys)
        .await
        .unwrap();
    let reqs = e.server.requests();
    assert_eq!(reqs.get("list pods"), Some(&1), "{reqs:?}");
    let web = summaries
        .iter()
        .find(|p| p.name == "web-abc12-00002")
        .unwrap();
    assert_eq!(
        web.owner.as_ref().map(|o| o.name.as_str()),
        Some("web"),
        "{web:?}"
    );
    assert!(
        web.annotations.iter().all(|kv| kv.key == keys[0]),
        "{web:?}"
    );
    assert_eq!(web.containers, ["app", "linkerd-proxy"]);
}

#[tokio::test]
async fn delete_and_evict_pods() {
    let e = env().await;
    e.kube
        .delete_pod("emojivoto", "web-abc12-00001")
        .await
        .unwrap();
    e.kube
        .evict_pod("emojivoto", "web-abc12-00002")
        .await
        .unwrap();
    let left: Vec<String> = e
        .fake
        .list_pods(Some("emojivoto"), "")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(left, ["web-abc12-00000"]);
    let err = e
        .kube
        .evict_pod("emojivoto", "web-abc12-00000")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::Conflict(ref m) if m.contains("PodDisruptionBudget")),
        "{err}"
    );
    let err = e.kube.delete_pod("emojivoto", "gone").await.unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn certificates_read_and_renew_like_cmctl() {
    let e = env().await;
    let certs = e.kube.list_certificates(None).await.unwrap();
    assert_eq!(certs.len(), 2);
    let issuer = e
        .kube
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    assert_eq!(
        issuer,
        e.fake
            .get_certificate("linkerd", "linkerd-identity-issuer")
            .await
            .unwrap()
    );
    assert!(issuer.ready && !issuer.issuing);

    e.server.reset_requests();
    e.kube
        .renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    let reqs = e.server.requests();
    assert_eq!(reqs.get("update certificates/status"), Some(&1), "{reqs:?}");
    let after = e
        .kube
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    assert!(after.issuing);
    assert!(
        after.ready,
        "Ready survives: the status was updated, not merge-patched"
    );
    let c = after
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing")
        .unwrap();
    assert_eq!(c.reason, "ManuallyTriggered");
}

#[tokio::test]
async fn a_ca_issuer_is_read_and_pointed_at_another_secret_with_a_merge_patch() {
    let e = env().await;
    let ca = IssuerRef::cluster("linkerd-identity-issuer");
    let read = e.kube.get_issuer(&ca).await.unwrap();
    assert_eq!(
        read,
        e.fake.get_issuer(&ca).await.unwrap(),
        "an issuer survives the round trip through the wire format"
    );
    assert!(read.ready && read.namespace.is_empty());

    e.server.reset_requests();
    e.kube
        .set_ca_issuer_secret(&ca, "linkerd-trust-anchor-next")
        .await
        .unwrap();
    let patches: Vec<_> = e
        .server
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(
        patches[0].path,
        "/apis/cert-manager.io/v1/clusterissuers/linkerd-identity-issuer"
    );
    assert_eq!(
        patches[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&patches[0].body).unwrap(),
        serde_json::json!({"spec": {"ca": {"secretName": "linkerd-trust-anchor-next"}}}),
        "spec.ca.secretName alone: rotor never sends a key"
    );
    let reqs = e.server.requests();
    assert_eq!(reqs.get("get clusterissuers"), Some(&1), "{reqs:?}");
    let after = e.kube.get_issuer(&ca).await.unwrap();
    assert_eq!(
        (after.ca_secret_name.as_deref(), after.generation),
        (Some("linkerd-trust-anchor-next"), 2)
    );
    assert_eq!(
        e.fake.mutations(),
        vec![
            "set ca issuer ClusterIssuer/linkerd-identity-issuer secret linkerd-trust-anchor-next"
        ]
    );
}

#[tokio::test]
async fn issuer_changes_refuse_missing_and_non_ca_issuers_unchanged() {
    let e = env().await;
    let err = e
        .kube
        .get_issuer(&IssuerRef::cluster("gone"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(m) if m.contains("ClusterIssuer/gone")),
        "{err}"
    );
    let err = e
        .kube
        .set_ca_issuer_secret(&IssuerRef::namespaced("linkerd", "gone"), "s")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(m) if m.contains("Issuer/linkerd/gone")),
        "{err}"
    );

    let root = IssuerRef::namespaced("cert-manager", "linkerd-trust-root-issuer");
    let before = e.kube.get_issuer(&root).await.unwrap();
    assert_eq!(before.ca_secret_name, None);
    e.server.reset_requests();
    let err = e
        .kube
        .set_ca_issuer_secret(&root, "linkerd-trust-anchor")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Invalid(m) if m.contains("not a CA issuer")),
        "{err}"
    );
    let reqs = e.server.requests();
    assert!(
        !reqs.contains_key("patch issuers"),
        "no patch sent: {reqs:?}"
    );
    assert_eq!(e.kube.get_issuer(&root).await.unwrap(), before);
    assert!(e.fake.mutations().is_empty());

    // A patch sent anyway is refused by the server too (422, as
    // cert-manager's webhook refuses a second issuer type), unchanged.
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
    let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", "Issuer");
    let api: Api<DynamicObject> = Api::namespaced_with(
        e.server.client().unwrap(),
        "cert-manager",
        &ApiResource::from_gvk_with_plural(&gvk, "issuers"),
    );
    let patch = serde_json::json!({"spec": {"ca": {"secretName": "linkerd-trust-anchor"}}});
    let err = api
        .patch(
            "linkerd-trust-root-issuer",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422),
        "{err}"
    );
    assert_eq!(e.kube.get_issuer(&root).await.unwrap(), before);
    assert!(e.fake.mutations().is_empty());
}

#[tokio::test]
async fn missing_cert_manager_is_named() {
    let e = env_with(ServerOptions {
        cert_manager: false,
        tick: None,
        ..ServerOptions::default()
    })
    .await;
    let err = e
        .kube
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cert-manager is not installed: no certificates.cert-manager.io"),
        "{err}"
    );
    let err = e.kube.list_certificates(None).await.unwrap_err();
    assert!(
        err.to_string().contains("cert-manager is not installed"),
        "{err}"
    );
    let err = e
        .kube
        .get_issuer(&IssuerRef::cluster("linkerd-identity-issuer"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(m) if m.contains("no clusterissuers.cert-manager.io")),
        "{err}"
    );
}

#[tokio::test]
async fn secrets_use_optimistic_concurrency() {
    let e = env().await;
    let write = |rv: Option<String>, data: &str| SecretWrite {
        namespace: "cert-manager".into(),
        name: "linkerd-previous-anchor".into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![("tls.crt".into(), data.as_bytes().to_vec())],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: rv,
    };
    let rv1 = e.kube.write_secret(write(None, "A")).await.unwrap();
    let read = e
        .kube
        .read_secret("cert-manager", "linkerd-previous-anchor")
        .await
        .unwrap();
    assert_eq!(read.data, vec![("tls.crt".to_string(), b"A".to_vec())]);
    assert_eq!(read.type_, "kubernetes.io/tls");
    assert_eq!(read.resource_version, rv1);
    let rv2 = e
        .kube
        .write_secret(write(Some(rv1.clone()), "B"))
        .await
        .unwrap();
    assert_ne!(rv1, rv2);
    let err = e
        .kube
        .write_secret(write(Some(rv1), "C"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Conflict(_)), "{err}");
    // No expectation: overwrite whatever is there, with `get` and `update`
    // only (rotor may not create Secrets).
    e.server.fail_next(
        "create secrets",
        1,
        rotor::testing::apiserver::Fault::Status(403),
    );
    e.server.reset_requests();
    e.kube.write_secret(write(None, "D")).await.unwrap();
    assert!(!e.server.requests().contains_key("create secrets"));
    let read = e
        .kube
        .read_secret("cert-manager", "linkerd-previous-anchor")
        .await
        .unwrap();
    assert_eq!(read.data[0].1, b"D");
}

#[tokio::test]
async fn progress_lives_in_a_config_map() {
    let e = env().await;
    assert_eq!(e.kube.load_progress().await.unwrap(), None);
    e.kube.save_progress("{\"step\":1}").await.unwrap();
    e.kube.save_progress("{\"step\":2}").await.unwrap();
    assert_eq!(
        e.fake.load_progress().await.unwrap().as_deref(),
        Some("{\"step\":2}")
    );
    assert_eq!(
        e.kube.load_progress().await.unwrap().as_deref(),
        Some("{\"step\":2}")
    );
    let cm = e
        .kube
        .read_config_map("rotor-system", "rotor-progress")
        .await
        .unwrap();
    assert_eq!(cm.data, vec![KeyValue::new("progress", "{\"step\":2}")]);
    e.kube.clear_progress().await.unwrap();
    e.kube.clear_progress().await.unwrap();
    assert_eq!(e.kube.load_progress().await.unwrap(), None);
}

#[tokio::test]
async fn events_are_recorded_and_listed() {
    let e = env().await;
    let identity = ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    };
    e.fake.state.lock().unwrap().events.push(rotor::wit::Event {
        involved: identity.clone(),
        type_: EventType::Normal,
        reason: "IssuerUpdated".into(),
        message: "Updated identity issuer".into(),
        count: 1,
        first_time: 950,
        last_time: 950,
        source: "linkerd-identity".into(),
    });
    e.kube
        .record_event(
            &identity,
            EventType::Warning,
            "RotationStarted",
            "rotating the trust anchor",
        )
        .await
        .unwrap();
    // The same event again: kube's Recorder patches the event's series.
    e.kube
        .record_event(
            &identity,
            EventType::Warning,
            "RotationStarted",
            "rotating the trust anchor",
        )
        .await
        .unwrap();
    assert!(
        e.server.requests().contains_key("patch events"),
        "{:?}",
        e.server.requests()
    );
    let all = e.kube.list_events(&identity, None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].reason, "IssuerUpdated");
    assert_eq!(all[0].source, "linkerd-identity");
    let warn = e
        .kube
        .list_events(&identity, Some("RotationStarted"))
        .await
        .unwrap();
    assert_eq!(warn.len(), 2);
    assert_eq!(warn[0].type_, EventType::Warning);
    assert_eq!(warn[0].message, "rotating the trust anchor");
}

#[tokio::test]
async fn owners_follow_replicaset_names_of_known_deployments() {
    let e = env().await;
    e.kube.list_workloads(None, None, "").await.unwrap();
    e.server.reset_requests();
    let pods = e.kube.list_pods(Some("emojivoto"), "").await.unwrap();
    assert_eq!(pods[0].owner.as_ref().unwrap().name, "web");
    assert_eq!(e.server.request_total(), 1, "{:?}", e.server.requests());
}

#[tokio::test]
async fn owners_are_cached_until_a_new_replicaset_appears() {
    let e = env().await;
    e.kube.list_pods(Some("emojivoto"), "").await.unwrap();
    e.server.reset_requests();
    e.kube.list_pods(Some("emojivoto"), "").await.unwrap();
    assert_eq!(e.server.request_total(), 1, "{:?}", e.server.requests());
}

mod faults;
