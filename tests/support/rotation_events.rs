//! The Events a default rotation leaves on the anchor Certificate, shared
//! by the test against the test API server (`tests/kube/observe.rs`) and
//! the one against the real API server (`tests/e2e`).

/// Reasons of the phases, in the order the default policy runs them,
/// between `RotationStarted` and `RotationSucceeded`.
pub const DEFAULT_PHASES: &[&str] = &[
    "PreflightPassed",
    "AnchorRenewed",
    "BundleUpdated",
    "NewAnchorTrusted",
    "IssuerRenewed",
    "NewIssuerAdopted",
    "PreviousAnchorRetired",
    "OldAnchorDropped",
];
