//! The Kubernetes backend under API faults the test API server injects:
//! transient errors retried within bounds, and the errors that are not.

use super::*;
use rotor::testing::apiserver::Fault;

#[tokio::test]
async fn transient_errors_are_retried() {
    let e = env().await;
    e.server.fail_next("list pods", 2, Fault::Status(503));
    e.server.fail_next("list namespaces", 1, Fault::Status(500));
    let pods = e.kube.list_pods(Some("emojivoto"), "").await.unwrap();
    assert_eq!(pods.len(), 3);
    assert_eq!(e.server.requests().get("list pods"), Some(&3));
    assert_eq!(e.kube.list_namespaces("").await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let e = env().await;
    e.server.fail_next("get deployments", 1, Fault::Reset);
    let w = e
        .kube
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(w.name, "web");
    assert_eq!(e.server.requests().get("get deployments"), Some(&2));
}

#[tokio::test]
async fn a_restart_that_landed_is_not_repeated() {
    let e = env().await;
    e.kube
        .list_workloads(Some("emojivoto"), None, "")
        .await
        .unwrap();
    e.server
        .fail_next("patch deployments", 1, Fault::ResetAfter);
    e.kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    let web = e
        .fake
        .get_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    assert_eq!(web.generation, 2, "restarted exactly once");
}

#[tokio::test]
async fn wait_rollout_resumes_ended_and_failed_watches() {
    let e = env_with(ServerOptions {
        watch_limit: Some(Duration::from_millis(30)),
        ..ServerOptions::default()
    })
    .await;
    e.fake
        .state
        .lock()
        .unwrap()
        .workloads
        .iter_mut()
        .find(|w| w.name == "web")
        .unwrap()
        .desired = 30;
    e.server
        .fail_next("watch deployments", 1, Fault::Status(503));
    e.kube
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "web")
        .await
        .unwrap();
    let done = e
        .kube
        .wait_rollout(WorkloadKind::Deployment, "emojivoto", "web", 120)
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete, "{}", done.message);
    let watches = e
        .server
        .requests()
        .get("watch deployments")
        .copied()
        .unwrap_or(0);
    assert!(
        watches > 3,
        "the watch was reopened as the server ended it: {watches}"
    );
}

#[tokio::test]
async fn retries_are_bounded() {
    let e = env().await;
    e.server.fail_next("list pods", 100, Fault::Status(500));
    let err = e.kube.list_pods(None, "").await.unwrap_err();
    assert!(matches!(err, ClusterError::Unavailable(_)), "{err}");
    // The first attempt and max_retries (2) more.
    assert_eq!(e.server.requests().get("list pods"), Some(&3));
}

#[tokio::test]
async fn forbidden_and_conflict_are_not_retried() {
    let e = env().await;
    e.server.fail_next("get secrets", 1, Fault::Status(403));
    let err = e.kube.read_secret("linkerd", "x").await.unwrap_err();
    assert!(matches!(err, ClusterError::Denied(_)), "{err}");
    assert_eq!(e.server.requests().get("get secrets"), Some(&1));
}

#[tokio::test]
async fn renew_rereads_after_a_conflict() {
    let e = env().await;
    e.server
        .fail_next("update certificates/status", 1, Fault::Status(409));
    e.kube
        .renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    let reqs = e.server.requests();
    assert_eq!(reqs.get("update certificates/status"), Some(&2), "{reqs:?}");
    assert_eq!(reqs.get("get certificates"), Some(&2), "{reqs:?}");
    assert!(
        e.fake
            .get_certificate("linkerd", "linkerd-identity-issuer")
            .await
            .unwrap()
            .issuing
    );
}
