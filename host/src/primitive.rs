//! The host imports a policy calls, named as in `rotor:policy` (kebab-case).
//!
//! One enum instead of strings, so the guard, the fault model, the report,
//! `plan` and `test` cannot disagree on a name. It serializes to the WIT
//! name, which keeps the report's JSON (`calls.by_primitive`, `audit`) and
//! the fault configuration (`spec.faults.primitives`) as they were, and it
//! orders by that name, so listings stay alphabetical.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! primitives {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// A host import of `rotor:policy`, or a call the guard counts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Primitive {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Primitive {
            /// Every primitive, in declaration order.
            pub const ALL: &[Primitive] = &[$(Primitive::$variant),*];

            /// The name in `rotor:policy`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Primitive::$variant => $name,)*
                }
            }
        }
    };
}

primitives! {
    ListNamespaces = "list-namespaces",
    ListWorkloads = "list-workloads",
    GetWorkload = "get-workload",
    RestartWorkload = "restart-workload",
    /// Every matching workload of one kind in a namespace, in one call.
    RestartWorkloads = "restart-workloads",
    GetRolloutStatus = "get-rollout-status",
    WaitRollout = "wait-rollout",
    /// Waits on a window of rollouts at once (since 0.1.3).
    WaitRollouts = "wait-rollouts",
    /// Asks an Argo Rollout or a StrimziPodSet to restart its pods (since 0.1.4).
    RestartOwner = "restart-owner",
    ListPods = "list-pods",
    ListPodSummaries = "list-pod-summaries",
    DeletePod = "delete-pod",
    EvictPod = "evict-pod",
    /// A pod's `/metrics`, through the API server's pod proxy (since 0.1.4).
    GetPodMetrics = "get-pod-metrics",
    GetCertificate = "get-certificate",
    ListCertificates = "list-certificates",
    RenewCertificate = "renew-certificate",
    /// An Issuer or a ClusterIssuer (since 0.1.5).
    GetIssuer = "get-issuer",
    /// Points a granted CA issuer at another Secret (since 0.1.5).
    SetCaIssuerSecret = "set-ca-issuer-secret",
    ReadSecret = "read-secret",
    WriteSecret = "write-secret",
    ReadConfigMap = "read-config-map",
    /// Creates or replaces one granted ConfigMap (since 0.1.4).
    WriteConfigMap = "write-config-map",
    ListEvents = "list-events",
    RecordEvent = "record-event",
    LoadProgress = "load-progress",
    SaveProgress = "save-progress",
    ClearProgress = "clear-progress",
    Now = "now",
    Wait = "wait",
    DryRun = "dry-run",
    Backend = "backend",
    Log = "log",
    BeginStep = "begin-step",
    EndStep = "end-step",
    ParsePem = "parse-pem",
    ParsePemKeys = "parse-pem-keys",
    VerifySignedBy = "verify-signed-by",
}

impl Primitive {
    /// Whether the call changes the cluster.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Primitive::RestartWorkload
                | Primitive::RestartWorkloads
                | Primitive::RestartOwner
                | Primitive::DeletePod
                | Primitive::EvictPod
                | Primitive::RenewCertificate
                | Primitive::SetCaIssuerSecret
                | Primitive::WriteSecret
                | Primitive::WriteConfigMap
                | Primitive::RecordEvent
                | Primitive::SaveProgress
                | Primitive::ClearProgress
        )
    }

    /// A restart of one workload, of a batch, or of a custom owner's pods.
    pub fn is_restart(self) -> bool {
        matches!(
            self,
            Primitive::RestartWorkload | Primitive::RestartWorkloads | Primitive::RestartOwner
        )
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a primitive of `rotor:policy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown primitive {0:?}")]
pub struct UnknownPrimitive(pub String);

impl FromStr for Primitive {
    type Err = UnknownPrimitive;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Primitive::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPrimitive(s.to_string()))
    }
}

/// Maps keyed by primitive answer lookups by name (`by_primitive.get("wait")`):
/// the order is the name's, so the two agree as `Borrow` requires.
impl Borrow<str> for Primitive {
    fn borrow(&self) -> &str {
        self.name()
    }
}

impl Ord for Primitive {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Primitive {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for p in Primitive::ALL {
            assert_eq!(p.name().parse::<Primitive>(), Ok(*p));
            let json = serde_json::to_string(p).expect("serialize");
            assert_eq!(json, format!("\"{}\"", p.name()));
        }
        assert_eq!(
            "renew-everything".parse::<Primitive>(),
            Err(UnknownPrimitive("renew-everything".into()))
        );
    }

    #[test]
    fn order_is_alphabetical_by_name() {
        let mut all = Primitive::ALL.to_vec();
        all.sort();
        let names: Vec<_> = all.iter().map(|p| p.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn maps_keyed_by_primitive_answer_lookups_by_name() {
        let counts = std::collections::BTreeMap::from([
            (Primitive::Wait, 2),
            (Primitive::RestartWorkload, 1),
        ]);
        assert_eq!(counts.get("wait"), Some(&2));
        assert_eq!(counts.get("restart-workload"), Some(&1));
        assert_eq!(counts.get("log"), None);
    }
}
