//! Injected API errors: a [`FaultyCluster`] wraps any backend and fails a
//! seeded random share of its calls the way an API server under load does
//! (409 Conflict, 429 Too Many Requests, 500, client timeouts).
//!
//! Configured by the simulator's `spec.faults`. An injected error is raised
//! before the call reaches the backend (the request never arrived), so a
//! retried mutation is applied at most once. The clock (`now`, `wait`) is
//! never faulted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::retry::{RetryPolicy, on_conflict};
use super::sim::SimCluster;
use super::{Cluster, ClusterError, ClusterResult, IssuerRef};
use crate::primitive::Primitive;
use crate::wit::{
    Certificate, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, Namespace, ObjectRef, Pod,
    PodSummary, RolloutOutcome, RolloutStatus, Secret, SecretWrite, Timestamp, Workload,
    WorkloadKind, WorkloadRef,
};

/// The backend calls faults can be injected into, by their primitive names.
pub const FAULTABLE_PRIMITIVES: &[Primitive] = &[
    Primitive::ListNamespaces,
    Primitive::ListWorkloads,
    Primitive::GetWorkload,
    Primitive::RestartWorkload,
    Primitive::GetRolloutStatus,
    Primitive::WaitRollout,
    Primitive::WaitRollouts,
    Primitive::RestartOwner,
    Primitive::ListPods,
    Primitive::DeletePod,
    Primitive::EvictPod,
    Primitive::GetPodMetrics,
    Primitive::GetCertificate,
    Primitive::ListCertificates,
    Primitive::RenewCertificate,
    Primitive::GetIssuer,
    Primitive::SetCaIssuerSecret,
    Primitive::ReadSecret,
    Primitive::WriteSecret,
    Primitive::ReadConfigMap,
    Primitive::WriteConfigMap,
    Primitive::ListEvents,
    Primitive::RecordEvent,
    Primitive::LoadProgress,
    Primitive::SaveProgress,
    Primitive::ClearProgress,
];

/// Mutations the Kubernetes backend reads again and repeats on a 409
/// ([`CONFLICT_ATTEMPTS`] in all), so an injected conflict is drawn again
/// here too: a restart's merge patch, a renewal's status update, the
/// progress record (saved or cleared), a CA issuer's Secret (read, then
/// patched), and a Secret written without an expected resourceVersion (see
/// [`FaultyCluster::write_secret`]).
const REPEATED_ON_CONFLICT: &[Primitive] = &[
    Primitive::RestartWorkload,
    Primitive::RenewCertificate,
    Primitive::SetCaIssuerSecret,
    Primitive::SaveProgress,
    Primitive::ClearProgress,
];

/// `spec.faults` of a `Simulation` document.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Seed of the random choices, so a run can be repeated exactly.
    #[serde(default)]
    pub seed: u64,
    /// Error rates applied to every faultable primitive.
    #[serde(default)]
    pub errors: ErrorRates,
    /// Per-primitive rates (by primitive name), replacing `errors` for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub primitives: BTreeMap<String, ErrorRates>,
}

/// Probabilities (0..=1, summing to at most 1) that one call fails each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorRates {
    /// 409: persistent, the policy sees it (mutating calls only).
    #[serde(default)]
    pub conflict: f64,
    /// 429: transient.
    #[serde(default)]
    pub throttled: f64,
    /// 500: transient.
    #[serde(default)]
    pub server_error: f64,
    /// Client-side timeout: transient.
    #[serde(default)]
    pub timeout: f64,
}

impl ErrorRates {
    fn total(&self) -> f64 {
        self.conflict + self.throttled + self.server_error + self.timeout
    }

    fn check(&self, context: &str) -> Result<(), FaultSpecError> {
        for (name, rate) in [
            ("conflict", self.conflict),
            ("throttled", self.throttled),
            ("serverError", self.server_error),
            ("timeout", self.timeout),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultSpecError(format!(
                    "{context}.{name} is {rate}; a rate is a probability between 0 and 1"
                )));
            }
        }
        if self.total() > 1.0 {
            return Err(FaultSpecError(format!(
                "{context}: the rates add up to {}; at most 1 is possible",
                self.total()
            )));
        }
        Ok(())
    }
}

/// `spec.faults` names an unknown primitive or an impossible rate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Simulation spec.faults: {0}")]
pub struct FaultSpecError(pub String);

impl FaultSpec {
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        self.errors.check("errors")?;
        for (primitive, rates) in &self.primitives {
            let known = primitive.parse::<Primitive>().ok();
            if !known.is_some_and(|p| FAULTABLE_PRIMITIVES.contains(&p)) {
                return Err(FaultSpecError(format!(
                    "primitives.{primitive}: not a faultable primitive (one of {})",
                    FAULTABLE_PRIMITIVES
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            rates.check(&format!("primitives.{primitive}"))?;
        }
        Ok(())
    }

    fn rates(&self, primitive: Primitive) -> &ErrorRates {
        self.primitives
            .get(primitive.name())
            .unwrap_or(&self.errors)
    }
}

/// What was injected over a run, by kind, and what came of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct InjectedCounts {
    pub conflict: u64,
    pub throttled: u64,
    pub server_error: u64,
    pub timeout: u64,
    /// Calls that still failed after the bounded retries (the policy saw
    /// these, along with every conflict).
    pub persisted: u64,
}

impl InjectedCounts {
    pub fn total(&self) -> u64 {
        self.conflict + self.throttled + self.server_error + self.timeout
    }
}

/// A backend whose calls fail at the configured rates. Transient failures
/// are retried here with the same bounded policy the Kubernetes backend
/// applies to its API calls ([`RetryPolicy`]), pausing no virtual time, so
/// the policy only sees what persists.
pub struct FaultyCluster {
    inner: Arc<dyn Cluster>,
    spec: FaultSpec,
    retry: RetryPolicy,
    state: Mutex<(StdRng, InjectedCounts)>,
}

impl FaultyCluster {
    pub fn new(inner: Arc<dyn Cluster>, spec: FaultSpec) -> Result<FaultyCluster, FaultSpecError> {
        spec.validate()?;
        let rng = StdRng::seed_from_u64(spec.seed);
        Ok(FaultyCluster {
            inner,
            spec,
            retry: RetryPolicy::default(),
            state: Mutex::new((rng, InjectedCounts::default())),
        })
    }

    pub fn injected(&self) -> InjectedCounts {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// One primitive call: injected failure or the backend's answer,
    /// retried while transient, and on a conflict where the backend would
    /// repeat it ([`REPEATED_ON_CONFLICT`]).
    async fn call<T, F, Fut>(&self, primitive: Primitive, target: &str, call: F) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClusterResult<T>>,
    {
        let repeated = REPEATED_ON_CONFLICT.contains(&primitive);
        self.call_with(primitive, target, repeated, call).await
    }

    /// [`Self::call`], saying whether the backend repeats it on a conflict.
    async fn call_with<T, F, Fut>(
        &self,
        primitive: Primitive,
        target: &str,
        repeated_on_conflict: bool,
        call: F,
    ) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClusterResult<T>>,
    {
        if !repeated_on_conflict {
            return self.call_once(primitive, target, &call).await;
        }
        let what = format!("{primitive} {target}");
        on_conflict(&what, || self.call_once(primitive, target, &call)).await
    }

    /// One call as the backend makes it, transient failures retried.
    async fn call_once<T, F, Fut>(
        &self,
        primitive: Primitive,
        target: &str,
        call: &F,
    ) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClusterResult<T>>,
    {
        let attempt = || {
            let injected = self.gate(primitive, target);
            let answer = call();
            async move {
                injected?;
                answer.await
            }
        };
        let result = self
            .retry
            .retry_transient(attempt, |_| std::future::ready(()))
            .await;
        if matches!(&result, Err(e) if e.is_transient()) {
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .persisted += 1;
        }
        result
    }

    /// Draw once for this call; `Err` is the injected failure.
    fn gate(&self, primitive: Primitive, target: &str) -> ClusterResult<()> {
        let rates = *self.spec.rates(primitive);
        if rates.total() == 0.0 {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (rng, counts) = &mut *state;
        let draw: f64 = rng.random();
        let conflict = if primitive.is_mutation() {
            rates.conflict
        } else {
            0.0
        };
        let mut bound = conflict;
        if draw < bound {
            counts.conflict += 1;
            return Err(ClusterError::Conflict(format!(
                "{primitive} {target}: 409 Conflict (injected fault): the object was modified; retry on the latest version"
            )));
        }
        bound += rates.throttled;
        if draw < bound {
            counts.throttled += 1;
            return Err(ClusterError::Unavailable(format!(
                "{primitive} {target}: 429 Too Many Requests (injected fault)"
            )));
        }
        bound += rates.server_error;
        if draw < bound {
            counts.server_error += 1;
            return Err(ClusterError::Unavailable(format!(
                "{primitive} {target}: 500 Internal Server Error (injected fault)"
            )));
        }
        bound += rates.timeout;
        if draw < bound {
            counts.timeout += 1;
            return Err(ClusterError::Timeout(format!(
                "{primitive} {target}: request timed out (injected fault)"
            )));
        }
        Ok(())
    }
}

/// What a simulated run talks to: the simulator, behind a [`FaultyCluster`]
/// when the scenario's `spec.faults` injects API errors.
pub struct SimulatedBackend {
    pub backend: Arc<dyn Cluster>,
    /// The fault layer, for its counts.
    pub faults: Option<Arc<FaultyCluster>>,
}

pub fn simulated_backend(sim: Arc<SimCluster>) -> Result<SimulatedBackend, FaultSpecError> {
    Ok(match sim.fault_spec() {
        None => SimulatedBackend {
            backend: sim,
            faults: None,
        },
        Some(spec) => {
            let faulty = Arc::new(FaultyCluster::new(sim, spec)?);
            SimulatedBackend {
                backend: faulty.clone(),
                faults: Some(faulty),
            }
        }
    })
}

/// Writes the [`Cluster`] impl of [`FaultyCluster`]: each listed primitive
/// goes through [`FaultyCluster::call`] under its fault name with a target
/// for the error message, then to the wrapped backend with the same
/// arguments. The methods in braces are written out by hand.
macro_rules! faulty_cluster {
    (
        { $($by_hand:tt)* }
        $( $method:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty = $primitive:ident, $target:expr; )*
    ) => {
        #[async_trait]
        impl Cluster for FaultyCluster {
            $($by_hand)*

            $(
                async fn $method(&self, $($arg: $ty),*) -> ClusterResult<$ret> {
                    self.call(Primitive::$primitive, $target, || self.inner.$method($($arg),*))
                        .await
                }
            )*
        }
    };
}

fn object(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

const RECORD: &str = "progress record";

faulty_cluster! {
    {
        fn backend(&self) -> super::Backend {
            self.inner.backend()
        }

        fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> ClusterResult<bool> {
            self.inner.verify_signed_by(cert_pem, issuer_pem)
        }

        async fn terminating_pods(
            &self,
            namespace: Option<&str>,
            selector: &str,
        ) -> ClusterResult<std::collections::BTreeSet<String>> {
            self.inner.terminating_pods(namespace, selector).await
        }

        /// A write with an expected resourceVersion is the caller's
        /// precondition: its conflict is the caller's to handle. Without one
        /// the backend replaces whatever is there and repeats on a conflict.
        async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
            self.call_with(
                Primitive::WriteSecret,
                &object(&secret.namespace, &secret.name),
                secret.expected_resource_version.is_none(),
                || self.inner.write_secret(secret.clone()),
            )
            .await
        }

        /// As [`FaultyCluster::write_secret`].
        async fn write_config_map(&self, config_map: ConfigMapWrite) -> ClusterResult<String> {
            self.call_with(
                Primitive::WriteConfigMap,
                &object(&config_map.namespace, &config_map.name),
                config_map.expected_resource_version.is_none(),
                || self.inner.write_config_map(config_map.clone()),
            )
            .await
        }

        async fn now(&self) -> Timestamp {
            self.inner.now().await
        }

        async fn wait(&self, seconds: u32) -> ClusterResult<()> {
            self.inner.wait(seconds).await
        }

        /// Read by `status` only, which no fault plan targets.
        async fn trust_manager_setup(
            &self,
        ) -> ClusterResult<Option<super::trust_manager::TrustManagerSetup>> {
            self.inner.trust_manager_setup().await
        }
    }
    list_namespaces(selector: &str) -> Vec<Namespace> = ListNamespaces, selector;
    list_workloads(namespace: Option<&str>, kind: Option<WorkloadKind>, selector: &str)
        -> Vec<Workload> = ListWorkloads, namespace.unwrap_or("*");
    get_workload(kind: WorkloadKind, namespace: &str, name: &str)
        -> Workload = GetWorkload, &object(namespace, name);
    restart_workload(kind: WorkloadKind, namespace: &str, name: &str)
        -> Timestamp = RestartWorkload, &object(namespace, name);
    rollout_status(kind: WorkloadKind, namespace: &str, name: &str)
        -> RolloutStatus = GetRolloutStatus, &object(namespace, name);
    wait_rollout(kind: WorkloadKind, namespace: &str, name: &str, timeout_seconds: u32)
        -> RolloutStatus = WaitRollout, &object(namespace, name);
    wait_rollouts(targets: &[WorkloadRef], timeout_seconds: u32, cluster_wide: bool)
        -> Vec<RolloutOutcome> = WaitRollouts, &targets.first().map_or_else(String::new, |t| object(&t.namespace, &t.name));
    restart_owner(owner: &ObjectRef)
        -> Timestamp = RestartOwner, &object(&owner.namespace, &owner.name);
    list_pods(namespace: Option<&str>, selector: &str)
        -> Vec<Pod> = ListPods, namespace.unwrap_or("*");
    list_pod_summaries(namespace: Option<&str>, selector: &str, annotations: &[String])
        -> Vec<PodSummary> = ListPods, namespace.unwrap_or("*");
    delete_pod(namespace: &str, name: &str) -> () = DeletePod, &object(namespace, name);
    evict_pod(namespace: &str, name: &str) -> () = EvictPod, &object(namespace, name);
    get_pod_metrics(namespace: &str, name: &str, port: u16)
        -> String = GetPodMetrics, &object(namespace, name);
    get_certificate(namespace: &str, name: &str)
        -> Certificate = GetCertificate, &object(namespace, name);
    list_certificates(namespace: Option<&str>)
        -> Vec<Certificate> = ListCertificates, namespace.unwrap_or("*");
    renew_certificate(namespace: &str, name: &str)
        -> () = RenewCertificate, &object(namespace, name);
    get_issuer(issuer: &IssuerRef) -> Issuer = GetIssuer, &issuer.to_string();
    set_ca_issuer_secret(issuer: &IssuerRef, secret_name: &str)
        -> () = SetCaIssuerSecret, &issuer.to_string();
    read_secret(namespace: &str, name: &str) -> Secret = ReadSecret, &object(namespace, name);
    // A fault on write-secret covers the delete a type change needs.
    delete_secret(namespace: &str, name: &str, resource_version: &str)
        -> () = WriteSecret, &object(namespace, name);
    read_config_map(namespace: &str, name: &str)
        -> ConfigMap = ReadConfigMap, &object(namespace, name);
    list_events(involved: &ObjectRef, reason: Option<&str>)
        -> Vec<Event> = ListEvents, &object(&involved.namespace, &involved.name);
    record_event(involved: &ObjectRef, type_: EventType, reason: &str, message: &str)
        -> () = RecordEvent, &object(&involved.namespace, &involved.name);
    load_progress() -> Option<String> = LoadProgress, RECORD;
    save_progress(record: &str) -> () = SaveProgress, RECORD;
    clear_progress() -> () = ClearProgress, RECORD;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::retry::CONFLICT_ATTEMPTS;

    fn rates(throttled: f64) -> ErrorRates {
        ErrorRates {
            throttled,
            ..ErrorRates::default()
        }
    }

    #[test]
    fn impossible_specs_are_refused_naming_the_field() {
        let mut spec = FaultSpec {
            errors: rates(1.5),
            ..FaultSpec::default()
        };
        let err = spec.validate().expect_err("rate above 1");
        assert!(err.to_string().contains("errors.throttled"), "{err}");
        spec.errors = ErrorRates {
            throttled: 0.6,
            timeout: 0.6,
            ..ErrorRates::default()
        };
        assert!(spec.validate().is_err(), "rates summing above 1");
        spec.errors = rates(0.1);
        spec.primitives
            .insert("renew-everything".into(), rates(0.1));
        let err = spec.validate().expect_err("unknown primitive");
        assert!(err.to_string().contains("renew-everything"), "{err}");
    }

    #[tokio::test]
    async fn the_same_seed_injects_the_same_errors_and_rates_are_honoured() {
        let spec = FaultSpec {
            seed: 42,
            errors: rates(0.25),
            primitives: BTreeMap::from([("read-secret".to_string(), rates(0.0))]),
        };
        let outcomes = |spec: FaultSpec| async move {
            let faulty = FaultyCluster::new(SimCluster::demo().into_arc(), spec).expect("valid");
            let mut seen = Vec::new();
            for _ in 0..400 {
                seen.push(faulty.list_namespaces("").await.is_ok());
                faulty
                    .read_secret("cert-manager", "linkerd-trust-anchor")
                    .await
                    .expect("read-secret is exempt");
            }
            (seen, faulty.injected())
        };
        let (first, counts) = outcomes(spec.clone()).await;
        let (second, _) = outcomes(spec).await;
        assert_eq!(first, second, "seeded");
        assert_eq!(counts.total(), counts.throttled);
        let failed = first.iter().filter(|ok| !**ok).count() as u64;
        assert_eq!(failed, counts.persisted, "what the caller saw");
        // 400 calls plus their retries, a quarter of attempts failing: about 133.
        assert!(
            (100..=170).contains(&counts.throttled),
            "about 25% of attempts: {counts:?}"
        );
        assert!(
            failed <= 2,
            "six attempts carry almost every call: {failed}"
        );
    }

    #[tokio::test]
    async fn a_fault_that_persists_reaches_the_caller_after_bounded_retries() {
        let spec = FaultSpec {
            errors: ErrorRates {
                server_error: 1.0,
                ..ErrorRates::default()
            },
            ..FaultSpec::default()
        };
        let faulty = FaultyCluster::new(SimCluster::demo().into_arc(), spec).expect("valid");
        let err = faulty.list_namespaces("").await.expect_err("always 500");
        assert!(err.is_transient(), "{err}");
        assert!(
            err.to_string().contains("500 Internal Server Error"),
            "{err}"
        );
        let counts = faulty.injected();
        let attempts = RetryPolicy::default().max_retries as u64 + 1;
        assert_eq!(counts.server_error, attempts, "{counts:?}");
        assert_eq!(counts.persisted, 1);
    }

    /// Conflicts at `rate` on every mutation.
    fn conflicts(seed: u64, rate: f64) -> FaultSpec {
        FaultSpec {
            seed,
            errors: ErrorRates {
                conflict: rate,
                ..ErrorRates::default()
            },
            ..FaultSpec::default()
        }
    }

    #[tokio::test]
    async fn conflicts_hit_only_mutations() {
        let spec = conflicts(0, 1.0);
        let faulty = FaultyCluster::new(SimCluster::demo().into_arc(), spec).expect("valid");
        faulty.list_pods(None, "").await.expect("reads pass");
        let err = faulty
            .renew_certificate("cert-manager", "linkerd-trust-anchor")
            .await
            .expect_err("409");
        assert!(matches!(err, ClusterError::Conflict(_)), "{err}");
    }

    #[tokio::test]
    async fn a_conflict_is_repeated_only_where_the_backend_reads_again() {
        let always = conflicts(0, 1.0);
        let write = |rv: Option<&str>| SecretWrite {
            namespace: "cert-manager".into(),
            name: "linkerd-previous-anchor".into(),
            type_: "Opaque".into(),
            data: vec![("tls.crt".into(), b"x".to_vec())],
            labels: vec![],
            annotations: vec![],
            expected_resource_version: rv.map(String::from),
        };
        // The caller's own precondition: its conflict comes back at once.
        let faulty =
            FaultyCluster::new(SimCluster::demo().into_arc(), always.clone()).expect("valid");
        let err = faulty
            .write_secret(write(Some("7")))
            .await
            .expect_err("409");
        assert!(!err.to_string().contains("attempts"), "{err}");
        assert_eq!(faulty.injected().conflict, 1);
        // Replace-whatever-is-there: read again and repeated, within bounds.
        let faulty = FaultyCluster::new(SimCluster::demo().into_arc(), always).expect("valid");
        let err = faulty.write_secret(write(None)).await.expect_err("409");
        let bound = format!("after {CONFLICT_ATTEMPTS} attempts");
        assert!(err.to_string().contains(&bound), "{err}");
        assert_eq!(faulty.injected().conflict, CONFLICT_ATTEMPTS as u64);
        // At 5 % per attempt nearly every restart, renewal and save goes through.
        let sometimes = conflicts(7, 0.05);
        let faulty = FaultyCluster::new(SimCluster::demo().into_arc(), sometimes).expect("valid");
        for i in 0..200 {
            faulty
                .save_progress(&format!("record {i}"))
                .await
                .expect("repeated until it lands");
        }
        assert!(faulty.injected().conflict > 0, "{:?}", faulty.injected());
    }
}
