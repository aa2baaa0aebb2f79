//! The guard against a fake backend: grants, dry-run, limits, audit.

use std::sync::Arc;

use super::*;
use crate::testing::fake::FakeCluster;

const LIMITS: TimeLimits = TimeLimits {
    deadline_seconds: 600,
    max_wait_seconds: 120,
};

async fn guard_with(grants: Grants, dry_run: bool) -> (Arc<FakeCluster>, Guard) {
    let cluster = Arc::new(FakeCluster::standard());
    let guard = Guard::new(cluster.clone(), grants, LIMITS, dry_run).await;
    (cluster, guard)
}

fn denied(result: GuardResult<impl std::fmt::Debug>) -> String {
    match result {
        Err(GuardError::Refused(ClusterError::Denied(m))) => m,
        other => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_outside_granted_namespaces_are_denied_or_filtered() {
    let grants = Grants {
        read_namespaces: vec!["linkerd*".into()],
        ..Grants::default()
    };
    let (cluster, mut guard) = guard_with(grants, false).await;

    let names: Vec<String> = guard
        .list_namespaces("")
        .await
        .expect("listing is allowed")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec!["linkerd".to_string()]);

    let all = guard
        .list_workloads(None, None, "")
        .await
        .expect("list all");
    assert!(all.iter().all(|w| w.namespace == "linkerd"), "{all:?}");

    let pods = guard.list_pods(None, "").await.expect("list all");
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert_eq!(
        cluster.state.lock().unwrap().cluster_wide_lists,
        0,
        "with namespace-limited grants every list is per namespace (namespace-scoped RBAC allows no other)"
    );

    let why = denied(guard.list_pods(Some("emojivoto"), "").await);
    assert!(
        why.contains("emojivoto") && why.contains("readNamespaces"),
        "{why}"
    );
    assert_eq!(guard.record().calls.denied, 1);
    assert_eq!(guard.record().audit[0].outcome, AuditOutcome::Denied);
}

#[tokio::test]
async fn pod_summaries_obey_the_same_grants_and_bounds() {
    let grants = Grants {
        read_namespaces: vec!["linkerd*".into()],
        ..Grants::default()
    };
    let (_, mut guard) = guard_with(grants, false).await;
    let keys = vec!["linkerd.io/trust-root-sha256".to_string()];
    let pods = guard.list_pods(None, "").await.unwrap();
    let summaries = guard.list_pod_summaries(None, "", &keys).await.unwrap();
    let expected: Vec<PodSummary> = pods.into_iter().map(|p| PodSummary::of(p, &keys)).collect();
    assert_eq!(
        summaries, expected,
        "the same pods, from granted namespaces only"
    );

    let why = denied(guard.list_pod_summaries(Some("emojivoto"), "", &keys).await);
    assert!(why.contains("emojivoto"), "{why}");

    let too_many: Vec<String> = (0..=MAX_SUMMARY_ANNOTATIONS)
        .map(|i| format!("k{i}"))
        .collect();
    match guard.list_pod_summaries(None, "", &too_many).await {
        Err(GuardError::Refused(ClusterError::Invalid(m))) => {
            assert!(m.contains("at most 16"), "{m}")
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(guard.record().calls.by_primitive["list-pod-summaries"], 3);
}

#[tokio::test]
async fn reading_every_namespace_lists_cluster_wide_once() {
    let (cluster, mut guard) = guard_with(Grants::default(), false).await;
    let all = guard.list_workloads(None, None, "").await.unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(cluster.state.lock().unwrap().cluster_wide_lists, 1);
}

#[tokio::test]
async fn missing_verb_is_denied_and_audited_without_reaching_the_backend() {
    let mut grants = Grants::default();
    grants.verbs.retain(|v| *v != Verb::Restart);
    let (cluster, mut guard) = guard_with(grants, false).await;

    let why = denied(
        guard
            .restart_workload(WorkloadKind::Deployment, "emojivoto", "emojivoto-app")
            .await,
    );
    assert!(why.contains("\"restart\""), "{why}");
    assert!(cluster.mutations().is_empty());
    let entry = &guard.record().audit[0];
    assert_eq!(entry.target, "Deployment emojivoto/emojivoto-app");
    assert_eq!(entry.primitive, Primitive::RestartWorkload);
}

#[tokio::test]
async fn write_namespace_grant_is_enforced() {
    let grants = Grants {
        write_namespaces: vec!["emojivoto".into()],
        ..Grants::default()
    };
    let (cluster, mut guard) = guard_with(grants, false).await;
    guard
        .restart_workload(WorkloadKind::Deployment, "emojivoto", "emojivoto-app")
        .await
        .expect("granted namespace");
    denied(guard.delete_pod("linkerd", "linkerd-app-abc12-00000").await);
    assert_eq!(
        cluster.mutations(),
        vec!["restart emojivoto/emojivoto-app".to_string()]
    );
    assert_eq!(guard.record().calls.mutations, 1);
}

#[tokio::test]
async fn secrets_need_their_own_grants_and_are_learned_for_redaction() {
    let (cluster, mut guard) = guard_with(Grants::default(), false).await;
    let secret = guard
        .read_secret("cert-manager", "linkerd-trust-anchor")
        .await
        .expect("granted by default");
    assert_eq!(secret.data[0].1, b"super-secret-anchor-key");
    assert_eq!(
        guard.redactor().redact("key super-secret-anchor-key"),
        "key [redacted]"
    );

    denied(guard.read_secret("default", "db-password").await);
    let write = SecretWrite {
        namespace: "linkerd".into(),
        name: "linkerd-identity-issuer".into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![("tls.key".into(), b"attacker-chosen-key".to_vec())],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    };
    let why = denied(guard.write_secret(write).await);
    assert!(why.contains("writeSecrets"), "{why}");
    assert!(cluster.mutations().is_empty());
    let audit = format!("{:?}", guard.record().audit);
    assert!(!audit.contains("attacker-chosen-key"), "{audit}");
}

#[tokio::test]
async fn granted_secret_write_is_applied_and_audited_without_values() {
    let (cluster, mut guard) = guard_with(Grants::default(), false).await;
    let write = SecretWrite {
        namespace: "cert-manager".into(),
        name: "linkerd-previous-anchor".into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![("tls.crt".into(), b"certificate-bytes-here".to_vec())],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    };
    let version = guard.write_secret(write).await.expect("granted");
    assert_eq!(version, "s2", "the fake's second resourceVersion");
    assert_eq!(
        cluster.mutations(),
        vec!["write secret cert-manager/linkerd-previous-anchor".to_string()]
    );
    let entry = &guard.record().audit[0];
    assert_eq!(entry.outcome, AuditOutcome::Applied);
    assert!(entry.detail.contains("tls.crt"));
    assert!(!entry.detail.contains("certificate-bytes-here"));
}

#[tokio::test]
async fn dry_run_records_mutations_without_calling_the_backend() {
    let (cluster, mut guard) = guard_with(Grants::default(), true).await;
    assert!(guard.is_dry_run());
    guard
        .restart_workload(WorkloadKind::Deployment, "linkerd", "linkerd-app")
        .await
        .expect("dry-run restart");
    let refs = guard
        .restart_workloads("emojivoto", WorkloadKind::Deployment, "")
        .await
        .expect_err("paused workload in emojivoto stops the batch");
    assert!(matches!(
        refs,
        GuardError::Refused(ClusterError::Invalid(_))
    ));
    guard
        .delete_pod("linkerd", "linkerd-app-abc12-00000")
        .await
        .expect("dry-run delete");
    guard
        .save_progress("{\"step\":3}")
        .await
        .expect("dry-run save");
    assert_eq!(
        guard.load_progress().await.expect("load"),
        Some("{\"step\":3}".into())
    );

    assert!(cluster.mutations().is_empty(), "{:?}", cluster.mutations());
    assert_eq!(cluster.progress(), None);
    let held: Vec<&str> = guard
        .record()
        .dry_run_mutations
        .iter()
        .map(|m| m.primitive.name())
        .collect();
    assert_eq!(
        held,
        vec![
            "restart-workload",
            "restart-workloads",
            "delete-pod",
            "save-progress"
        ]
    );
    assert_eq!(guard.record().calls.mutations, 4);
}

#[tokio::test]
async fn dry_run_still_reports_missing_objects() {
    let (_, mut guard) = guard_with(Grants::default(), true).await;
    let err = guard
        .delete_pod("linkerd", "no-such-pod")
        .await
        .expect_err("missing pod");
    assert!(
        matches!(err, GuardError::Refused(ClusterError::NotFound(_))),
        "{err:?}"
    );
    assert!(guard.record().dry_run_mutations.is_empty());
}

#[tokio::test]
async fn waits_are_bounded_and_the_deadline_ends_the_run() {
    let (_, mut guard) = guard_with(Grants::default(), false).await;
    let too_long = guard.wait(121).await.expect_err("over maxWaitSeconds");
    assert!(
        matches!(&too_long, GuardError::Refused(ClusterError::Invalid(m)) if m.contains("maxWaitSeconds")),
        "{too_long:?}"
    );
    for _ in 0..5 {
        guard.wait(120).await.expect("within the deadline");
    }
    // 600 s used: the next wait would cross the deadline.
    match guard.wait(1).await {
        Err(GuardError::Limit(RunLimitExceeded::Deadline {
            deadline_seconds, ..
        })) => {
            assert_eq!(deadline_seconds, 600)
        }
        other => panic!("expected the deadline, got {other:?}"),
    }
    // Any later call ends the run too.
    assert!(matches!(
        guard.list_namespaces("").await,
        Err(GuardError::Limit(_))
    ));
}

#[tokio::test]
async fn calls_are_counted_per_primitive() {
    let (_, mut guard) = guard_with(Grants::default(), false).await;
    guard.list_namespaces("").await.expect("list");
    guard.list_namespaces("").await.expect("list");
    guard.clock_now().await.expect("now");
    let calls = &guard.record().calls;
    assert_eq!(calls.by_primitive.get("list-namespaces"), Some(&2));
    assert_eq!(calls.by_primitive.get("now"), Some(&1));
    assert_eq!(calls.total, 3);
}

#[tokio::test]
async fn oversized_arguments_are_invalid() {
    let (_, mut guard) = guard_with(Grants::default(), false).await;
    let selector = "a".repeat(MAX_ARG_BYTES + 1);
    let err = guard.list_namespaces(&selector).await.expect_err("too big");
    assert!(
        matches!(err, GuardError::Refused(ClusterError::Invalid(m)) if m.contains("label-selector"))
    );
}

#[tokio::test]
async fn restart_owner_outside_write_namespaces_is_denied_before_the_backend() {
    let grants = Grants {
        write_namespaces: vec!["emojivoto".into()],
        ..Grants::default()
    };
    let (cluster, mut guard) = guard_with(grants, false).await;
    let rollout = |namespace: &str| ObjectRef {
        kind: crate::cluster::ROLLOUT.0.into(),
        namespace: namespace.into(),
        name: "cart".into(),
    };
    // A Rollout `cart` with a pod in each namespace: the fake knows both.
    for ns in ["emojivoto", "linkerd"] {
        let (_, mut pods) = crate::testing::fake::deployment(ns, "cart", 1);
        pods[0].owner = Some(rollout(ns));
        cluster.state.lock().unwrap().pods.extend(pods);
    }

    let why = denied(guard.restart_owner(&rollout("linkerd")).await);
    assert!(
        why.contains("linkerd") && why.contains("writeNamespaces"),
        "{why}"
    );
    assert!(cluster.mutations().is_empty(), "{:?}", cluster.mutations());
    let entry = &guard.record().audit[0];
    assert_eq!(entry.primitive, Primitive::RestartOwner);
    assert_eq!(entry.target, "Rollout linkerd/cart");
    assert_eq!(entry.outcome, AuditOutcome::Denied);

    // The same owner in a granted namespace reaches the backend.
    guard
        .restart_owner(&rollout("emojivoto"))
        .await
        .expect("granted namespace");
    assert_eq!(
        cluster.mutations(),
        vec!["restart-owner Rollout emojivoto/cart".to_string()]
    );
    assert_eq!(guard.record().calls.denied, 1);
    assert_eq!(guard.record().calls.mutations, 1);
}

fn config_map_write(namespace: &str, name: &str) -> ConfigMapWrite {
    ConfigMapWrite {
        namespace: namespace.into(),
        name: name.into(),
        data: vec![crate::wit::KeyValue::new("ca-bundle.crt", "pem")],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    }
}

#[tokio::test]
async fn config_map_writes_need_their_own_grant_by_name() {
    // The default grants name no ConfigMap: the trust roots stay trust-manager's.
    let (cluster, mut guard) = guard_with(Grants::default(), false).await;
    let why = denied(
        guard
            .write_config_map(config_map_write("linkerd", "linkerd-identity-trust-roots"))
            .await,
    );
    assert!(why.contains("grants.writeConfigMaps"), "{why}");

    let grants = Grants {
        write_config_maps: vec!["linkerd/linkerd-identity-trust-roots".into()],
        ..Grants::default()
    };
    let (cluster2, mut guard) = guard_with(grants.clone(), false).await;
    let why = denied(
        guard
            .write_config_map(config_map_write("linkerd", "linkerd-config"))
            .await,
    );
    assert!(why.contains("ConfigMap linkerd/linkerd-config"), "{why}");
    guard
        .write_config_map(config_map_write("linkerd", "linkerd-identity-trust-roots"))
        .await
        .expect("granted by name");
    assert_eq!(
        cluster2.mutations(),
        vec!["write config map linkerd/linkerd-identity-trust-roots".to_string()]
    );
    assert!(cluster.mutations().is_empty());

    // The name alone is not enough: the verb must be granted too.
    let (cluster3, mut guard) = guard_with(
        Grants {
            verbs: vec![Verb::WriteSecret],
            ..grants
        },
        false,
    )
    .await;
    denied(
        guard
            .write_config_map(config_map_write("linkerd", "linkerd-identity-trust-roots"))
            .await,
    );
    assert!(cluster3.mutations().is_empty());
}

#[tokio::test]
async fn issuers_are_read_under_the_namespace_grants() {
    let grants = Grants {
        read_namespaces: vec!["linkerd".into()],
        ..Grants::default()
    };
    let (_, mut guard) = guard_with(grants, false).await;
    // A ClusterIssuer is cluster-scoped: readable when any namespace is.
    let ca = guard
        .get_issuer("ClusterIssuer", "ignored", "linkerd-identity-issuer")
        .await
        .expect("cluster-scoped");
    assert_eq!(ca.ca_secret_name.as_deref(), Some("linkerd-trust-anchor"));
    assert_eq!(ca.namespace, "");
    let why = denied(
        guard
            .get_issuer("Issuer", "cert-manager", "linkerd-trust-root-issuer")
            .await,
    );
    assert!(
        why.contains("cert-manager") && why.contains("readNamespaces"),
        "{why}"
    );
    let err = guard.get_issuer("Issuers", "", "x").await.unwrap_err();
    assert!(
        matches!(&err, GuardError::Refused(ClusterError::Invalid(m)) if m.contains("\"Issuers\"")),
        "{err:?}"
    );
    let (_, mut guard) = guard_with(Grants::none(), false).await;
    denied(
        guard
            .get_issuer("ClusterIssuer", "", "linkerd-identity-issuer")
            .await,
    );
}

/// Point ClusterIssuer `name` at the next anchor's Secret.
async fn set(g: &mut Guard, name: &str) -> GuardResult<()> {
    g.set_ca_issuer_secret("ClusterIssuer", "", name, "linkerd-trust-anchor-next")
        .await
}

#[tokio::test]
async fn ca_issuer_changes_need_the_verb_and_the_issuer_by_name() {
    // None by default: denied, naming the issuer and the grant.
    let (cluster, mut guard) = guard_with(Grants::default(), false).await;
    let why = denied(set(&mut guard, "linkerd-identity-issuer").await);
    assert!(
        why.contains("ClusterIssuer/linkerd-identity-issuer")
            && why.contains("grants.writeIssuers"),
        "{why}"
    );
    assert!(cluster.mutations().is_empty());
    assert_eq!(guard.record().audit[0].outcome, AuditOutcome::Denied);

    let grants = Grants {
        write_issuers: vec!["ClusterIssuer/linkerd-identity-issuer".into()],
        ..Grants::default()
    };
    let (cluster, mut guard) = guard_with(grants.clone(), false).await;
    denied(set(&mut guard, "other-issuer").await);
    set(&mut guard, "linkerd-identity-issuer")
        .await
        .expect("granted by name");
    assert_eq!(
        cluster.mutations(),
        vec![
            "set ca issuer ClusterIssuer/linkerd-identity-issuer secret linkerd-trust-anchor-next"
                .to_string()
        ]
    );
    let entry = guard.record().audit.last().unwrap().clone();
    assert_eq!(entry.outcome, AuditOutcome::Applied);
    assert_eq!(entry.target, "ClusterIssuer/linkerd-identity-issuer");
    assert!(
        entry.detail.contains("linkerd-trust-anchor-next"),
        "{entry:?}"
    );
    assert_eq!(guard.record().calls.mutations, 1);
    let now = guard
        .get_issuer("ClusterIssuer", "", "linkerd-identity-issuer")
        .await
        .unwrap();
    assert_eq!(
        (now.ca_secret_name.as_deref(), now.generation),
        (Some("linkerd-trust-anchor-next"), 2)
    );

    // The name alone is not enough: the verb must be granted too.
    let (cluster, mut guard) = guard_with(
        Grants {
            verbs: vec![Verb::Renew],
            ..grants
        },
        false,
    )
    .await;
    let why = denied(set(&mut guard, "linkerd-identity-issuer").await);
    assert!(why.contains("set-ca-issuer"), "{why}");
    assert!(cluster.mutations().is_empty());
}

#[tokio::test]
async fn dry_run_records_an_issuer_change_and_does_not_apply_it() {
    let grants = Grants {
        write_issuers: vec!["ClusterIssuer/*".into(), "Issuer/cert-manager/*".into()],
        ..Grants::default()
    };
    let (cluster, mut guard) = guard_with(grants, true).await;
    guard
        .set_ca_issuer_secret(
            "ClusterIssuer",
            "",
            "linkerd-identity-issuer",
            "linkerd-trust-anchor-next",
        )
        .await
        .expect("held back");
    assert!(cluster.mutations().is_empty());
    let held = &guard.record().dry_run_mutations;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].primitive, Primitive::SetCaIssuerSecret);
    assert_eq!(held[0].target, "ClusterIssuer/linkerd-identity-issuer");
    assert!(
        held[0].would.contains("linkerd-trust-anchor-next")
            && held[0].would.contains("now \"linkerd-trust-anchor\""),
        "{:?}",
        held[0]
    );
    let still = cluster.state.lock().unwrap().issuers[0].clone();
    assert_eq!(
        (still.ca_secret_name.as_deref(), still.generation),
        (Some("linkerd-trust-anchor"), 1)
    );
    // What the run would get is still reported: a missing issuer, a non-CA one.
    let err = guard
        .set_ca_issuer_secret("ClusterIssuer", "", "missing", "s")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GuardError::Refused(ClusterError::NotFound(m)) if m.contains("ClusterIssuer/missing")),
        "{err:?}"
    );
    let err = guard
        .set_ca_issuer_secret("Issuer", "cert-manager", "linkerd-trust-root-issuer", "s")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GuardError::Refused(ClusterError::Invalid(m)) if m.contains("not a CA issuer")),
        "{err:?}"
    );
    assert_eq!(guard.record().dry_run_mutations.len(), 1);
}

/// Two clusters, each with its own grants: east may write, west may not.
async fn east_and_west() -> (Arc<FakeCluster>, Arc<FakeCluster>, ClusterGuards) {
    let (east, east_guard) = guard_with(Grants::default(), false).await;
    let read_only = Grants {
        write_namespaces: vec![],
        ..Grants::default()
    };
    let (west, west_guard) = guard_with(read_only, false).await;
    let guards = ClusterGuards::new(vec![
        ("east".into(), true, east_guard),
        ("west".into(), false, west_guard),
    ]);
    (east, west, guards)
}

/// An Event recorded through whichever guard is selected.
async fn visit(guards: &mut ClusterGuards) -> GuardResult<()> {
    guards
        .guard_mut()
        .record_event(&linkerd_namespace(), EventType::Normal, "Visited", "hello")
        .await
}

fn linkerd_namespace() -> ObjectRef {
    ObjectRef {
        kind: "Namespace".into(),
        namespace: "linkerd".into(),
        name: "linkerd".into(),
    }
}

#[tokio::test]
async fn calls_go_to_the_selected_cluster_under_its_own_grants() {
    let (east, west, mut guards) = east_and_west().await;
    assert_eq!(guards.current(), "east", "home is selected first");
    visit(&mut guards).await.expect("east grants writes");
    guards.select("west").unwrap();
    assert_eq!(guards.current(), "west");
    let why = denied(visit(&mut guards).await);
    assert!(why.contains("writeNamespaces"), "{why}");
    assert_eq!(east.state.lock().unwrap().events.len(), 1);
    assert!(west.state.lock().unwrap().events.is_empty());

    let err = guards.select("north").unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err:?}");
    assert_eq!(guards.current(), "west", "a bad name leaves the selection");

    let record = guards.into_record();
    let audited: Vec<(Option<&str>, AuditOutcome)> = record
        .audit
        .iter()
        .map(|e| (e.cluster.as_deref(), e.outcome))
        .collect();
    assert_eq!(
        audited,
        [
            (Some("east"), AuditOutcome::Applied),
            (Some("west"), AuditOutcome::Denied)
        ]
    );
    assert_eq!((record.calls.mutations, record.calls.denied), (1, 1));
}

#[tokio::test]
async fn one_cluster_is_local_home_and_its_record_names_no_cluster() {
    let (_, guard) = guard_with(Grants::default(), false).await;
    let mut guards = ClusterGuards::single(guard);
    let listed = guards.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].home),
        (LOCAL_CLUSTER, true)
    );
    guards.select(LOCAL_CLUSTER).unwrap();
    guards
        .guard_mut()
        .record_event(&linkerd_namespace(), EventType::Normal, "Visited", "hello")
        .await
        .unwrap();
    let record = guards.into_record();
    assert_eq!(record.audit.len(), 1);
    assert_eq!(record.audit[0].cluster, None);
}

#[tokio::test]
async fn a_secret_read_in_one_cluster_is_masked_after_selecting_another() {
    let (_, _, mut guards) = east_and_west().await;
    guards
        .guard_mut()
        .read_secret("cert-manager", "linkerd-trust-anchor")
        .await
        .expect("granted");
    guards.select("west").unwrap();
    assert_eq!(
        guards.redactor().redact("key super-secret-anchor-key"),
        "key [redacted]"
    );
}
