//! The run lock (a coordination.k8s.io/v1 Lease) against the test API server.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use rotor::cluster::kube::RetryPolicy;
use rotor::lock::{LEASE_NAME, LockError, LockTiming, RunLock};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};
use rotor::testing::fake::{FakeCluster, FakeState};
use serde_json::json;

const NS: &str = "rotor-system";

async fn server() -> TestApiServer {
    let fake = Arc::new(FakeCluster::new(FakeState::default()));
    TestApiServer::start(fake, ServerOptions::clock_untouched())
        .await
        .unwrap()
}

fn timing() -> LockTiming {
    LockTiming {
        lease_duration: Duration::from_secs(2),
        renew_every: Duration::from_millis(100),
    }
}

async fn acquire(s: &TestApiServer, holder: &str) -> Result<RunLock, LockError> {
    RunLock::acquire(
        s.client().unwrap(),
        NS,
        holder,
        timing(),
        RetryPolicy::default(),
    )
    .await
}

#[tokio::test]
async fn a_second_run_is_refused_until_the_first_releases() {
    let s = server().await;
    let first = acquire(&s, "run-a").await.unwrap();
    let err = acquire(&s, "run-b")
        .await
        .err()
        .expect("second run refused");
    let msg = err.to_string();
    assert!(
        msg.starts_with("rotation in progress, held by run-a since "),
        "{msg}"
    );
    // Renewals keep it held past its duration.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.check().unwrap();
    assert!(matches!(
        acquire(&s, "run-b").await,
        Err(LockError::Held { .. })
    ));
    first.release().await.unwrap();
    let second = acquire(&s, "run-b").await.unwrap();
    assert_eq!(second.holder(), "run-b");
}

#[tokio::test]
async fn a_stale_holder_is_taken_over() {
    let s = server().await;
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600);
    s.seed(
        "coordination.k8s.io/leases",
        NS,
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": NS},
            "spec": {"holderIdentity": "crashed-pod", "leaseDurationSeconds": 60,
                     "acquireTime": long_ago.to_string(), "renewTime": long_ago.to_string(),
                     "leaseTransitions": 4},
        }),
    );
    let lock = acquire(&s, "run-c").await.unwrap();
    let api: Api<Lease> = Api::namespaced(s.client().unwrap(), NS);
    let lease = api.get(LEASE_NAME).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("run-c"));
    assert_eq!(spec.lease_transitions, Some(5));
    lock.release().await.unwrap();
}

#[tokio::test]
async fn a_live_holder_is_not_taken_over() {
    let s = server().await;
    let just_now = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
    s.seed_run_lock(NS, "busy-pod", just_now, just_now);
    let err = acquire(&s, "run-d").await.err().unwrap();
    assert!(err.to_string().contains("held by busy-pod"), "{err}");
}

/// Take the Lease over as another holder would: re-read and retry when the
/// holder's renewal wins the race (409).
async fn usurp(api: &Api<Lease>) {
    for _ in 0..50 {
        let mut lease = api.get(LEASE_NAME).await.unwrap();
        lease.spec.as_mut().unwrap().holder_identity = Some("usurper".into());
        match api.replace(LEASE_NAME, &Default::default(), &lease).await {
            Ok(_) => return,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => panic!("cannot take the lease over: {e}"),
        }
    }
    panic!("the holder's renewals kept winning the race for the lease");
}

#[tokio::test]
async fn losing_the_lease_is_noticed() {
    let s = server().await;
    let lock = acquire(&s, "run-e").await.unwrap();
    let api: Api<Lease> = Api::namespaced(s.client().unwrap(), NS);
    usurp(&api).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(lock.check(), Err(LockError::Lost(_))));
    // Releasing does not free someone else's lease.
    lock.release().await.unwrap();
    let lease = api.get(LEASE_NAME).await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("usurper")
    );
}

#[tokio::test]
async fn a_run_that_lost_its_lock_changes_nothing_more() {
    use rotor::cluster::kube::KubeCluster;
    use rotor::cluster::{Cluster, ClusterError};
    let s = server().await;
    let lock = acquire(&s, "run-f").await.unwrap();
    let kube = KubeCluster::new(s.client().unwrap(), NS).with_fence(lock.lost_flag());
    kube.save_progress("step 1").await.unwrap();
    let api: Api<Lease> = Api::namespaced(s.client().unwrap(), NS);
    usurp(&api).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = kube.save_progress("step 2").await.unwrap_err();
    assert!(
        matches!(err, ClusterError::Conflict(ref m) if m.contains("run lock was lost")),
        "{err}"
    );
    assert_eq!(
        kube.load_progress().await.unwrap().as_deref(),
        Some("step 1")
    );
}
