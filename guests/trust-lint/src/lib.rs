//! The preflight lint of Linkerd's trust anchor and identity issuer: the
//! rules a rotation must pass before its first change, over plain facts.
//! One crate so that the default policy (reading the facts through
//! `parse-pem` and `parse-pem-keys`) and `rotor status` (reading them with
//! the host's X.509 parser) judge alike. It has no dependencies: it builds
//! for the policies' `wasm32-wasip2` and for the host.
//!
//! The rules and the upstream facts behind them are listed in
//! `docs/trust-model.md` ("What rotor checks before it starts"); `version`
//! judges the control plane's Linkerd version alike for both
//! ("Linkerd's version").

mod rules;
#[cfg(test)]
mod tests;
pub mod version;

/// Which of the two certificates a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anchor,
    Issuer,
}

impl Role {
    pub fn noun(self) -> &'static str {
        match self {
            Role::Anchor => "trust anchor",
            Role::Issuer => "identity issuer",
        }
    }
}

/// What one certificate and the cert-manager Certificate behind it say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// How findings name it: the Certificate's `namespace/name`.
    pub object: String,
    /// `ecdsa`, `rsa`, `ed25519` (as `parse-pem-keys` names them), or the
    /// public key algorithm's OID.
    pub key_algorithm: String,
    /// The curve's size for ECDSA (256 for P-256), the modulus' for RSA.
    pub key_bits: u32,
    /// Basic constraints say CA:TRUE.
    pub is_ca: bool,
    /// The key-usage extension grants certificate signing; `None` without
    /// the extension.
    pub key_cert_sign: Option<bool>,
    pub not_before: i64,
    pub not_after: i64,
    /// cert-manager's `status.renewalTime`.
    pub renewal_time: Option<i64>,
    /// `spec.renewal.policy: Disabled`: only a manual renewal re-issues.
    pub renewal_disabled: bool,
}

/// What the run and its schedule allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub now: i64,
    /// How long a rotation may take (the policy's `renewalMarginSeconds`).
    pub run_seconds: i64,
    /// The longest gap until the next scheduled run (the CronJob's
    /// `scheduleIntervalSeconds`).
    pub next_run_seconds: i64,
    /// A full rotation re-issues the anchor; an issuer-only one does not.
    pub full: bool,
}

/// Linkerd's identity issues leaves for 24 hours, clamped to the issuer's
/// end (`pkg/identity` in linkerd2; the simulator's `LEAF_LIFETIME`).
pub const LEAF_LIFETIME_SECONDS: i64 = 24 * 3600;
/// The policy's default `renewalMarginSeconds`.
pub const DEFAULT_RUN_SECONDS: i64 = 7200;
/// The chart's default `cronJob.scheduleIntervalSeconds` (31 days: monthly).
pub const DEFAULT_NEXT_RUN_SECONDS: i64 = 31 * 86_400;

/// Whether a finding stops the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Refusal,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Refusal => "refusal",
        }
    }
}

/// One rule's verdict on one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The rule's stable name (`issuer-key`, `issuer-outlives-anchor`, ...).
    pub rule: &'static str,
    pub role: Role,
    pub object: String,
    pub problem: String,
}

impl Finding {
    /// One line naming the object and the problem.
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.role.noun(), self.object, self.problem)
    }
}

/// Every finding on the anchor and the issuer, refusals and warnings, in a
/// fixed order: keys and constraints, then lifetimes, then renewals.
pub fn lint(anchor: &Facts, issuer: &Facts, limits: &Limits) -> Vec<Finding> {
    let mut out = Vec::new();
    for (role, facts) in [(Role::Anchor, anchor), (Role::Issuer, issuer)] {
        out.extend(rules::key(role, facts));
        out.extend(rules::basic_constraints(role, facts));
        out.extend(rules::key_usage(role, facts));
    }
    out.extend(rules::issuer_outlives_anchor(anchor, issuer));
    out.extend(rules::anchor_lifetime(anchor, limits));
    out.extend(rules::issuer_lifetime(issuer, limits));
    for (role, facts) in [(Role::Anchor, anchor), (Role::Issuer, issuer)] {
        out.extend(rules::renews_before_next_run(role, facts, limits));
        out.extend(rules::expires_before_next_run(role, facts, limits));
    }
    out
}

/// The first refusal, if any: what stops the rotation.
pub fn first_refusal(findings: &[Finding]) -> Option<&Finding> {
    findings.iter().find(|f| f.severity == Severity::Refusal)
}

/// A key as people name it: `ECDSA P-256`, `RSA-2048`, `Ed25519`.
pub fn key_name(algorithm: &str, bits: u32) -> String {
    match (algorithm, bits) {
        ("ecdsa", 256 | 384 | 521) => format!("ECDSA P-{bits}"),
        ("ecdsa", _) => format!("ECDSA ({bits}-bit curve)"),
        ("rsa", _) => format!("RSA-{bits}"),
        ("ed25519", _) => "Ed25519".into(),
        (other, _) => format!("{other} ({bits} bits)"),
    }
}

/// Seconds as a short duration: `45 min`, `23 h`, `31 days`.
pub fn human(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let text = if s >= 2 * 86_400 {
        format!("{} days", s / 86_400)
    } else if s >= 3_600 {
        format!("{} h", s / 3_600)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    };
    if seconds < 0 {
        format!("-{text}")
    } else {
        text
    }
}
