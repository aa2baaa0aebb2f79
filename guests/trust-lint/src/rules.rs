//! The lint's rules, one function each. Every rule names the upstream fact
//! it follows; `docs/trust-model.md` lists them in words.

use crate::{Facts, Finding, LEAF_LIFETIME_SECONDS, Limits, Role, Severity, human, key_name};

fn finding(
    severity: Severity,
    rule: &'static str,
    role: Role,
    facts: &Facts,
    problem: String,
) -> Finding {
    Finding {
        severity,
        rule,
        role,
        object: facts.object.clone(),
        problem,
    }
}

/// Keys Linkerd accepts. Anchors: ECDSA P-256, RSA 2048 or 4096 bits
/// (`CheckTrustAnchorAlgoRequirements`, linkerd2 `pkg/issuercerts`, since
/// linkerd2 PR 8868; the sizes as fixed by PR 15358). The issuer: ECDSA
/// P-256 only (`CheckIssuerCertAlgoRequirements`, the same file; a P-521
/// issuer's leaves are rejected by proxies, linkerd2 issue 3777).
pub(crate) fn key(role: Role, facts: &Facts) -> Option<Finding> {
    let alg = facts.key_algorithm.as_str();
    let bits = facts.key_bits;
    let (ok, accepted, rule) = match role {
        Role::Anchor => (
            matches!((alg, bits), ("ecdsa", 256) | ("rsa", 2048 | 4096)),
            "ECDSA P-256, RSA-2048 or RSA-4096 keys for a trust anchor",
            "anchor-key",
        ),
        Role::Issuer => (
            (alg, bits) == ("ecdsa", 256),
            "only an ECDSA P-256 key for the identity issuer",
            "issuer-key",
        ),
    };
    (!ok).then(|| {
        finding(
            Severity::Refusal,
            rule,
            role,
            facts,
            format!(
                "has an {} key; Linkerd accepts {accepted}: set spec.privateKey on its Certificate",
                key_name(alg, bits)
            ),
        )
    })
}

/// Both must be CAs. Identity verifies its issuer against the anchors with
/// Go's `crypto/x509`, which refuses a signer whose basic constraints lack
/// CA:TRUE; `linkerd install` and `linkerd check` refuse an issuer that is
/// not a CA (`VerifyAndBuildCreds`, linkerd2 `pkg/issuercerts`).
pub(crate) fn basic_constraints(role: Role, facts: &Facts) -> Option<Finding> {
    (!facts.is_ca).then(|| {
        let rule = match role {
            Role::Anchor => "anchor-not-ca",
            Role::Issuer => "issuer-not-ca",
        };
        finding(
            Severity::Refusal,
            rule,
            role,
            facts,
            "is not a CA (basic constraints lack CA:TRUE), so what it signs does not \
             verify: set spec.isCA: true on its Certificate"
                .into(),
        )
    })
}

/// A CA whose key-usage extension is present must assert certificate
/// signing (RFC 5280, section 4.2.1.3); without the extension any usage is
/// allowed.
pub(crate) fn key_usage(role: Role, facts: &Facts) -> Option<Finding> {
    (facts.key_cert_sign == Some(false)).then(|| {
        let rule = match role {
            Role::Anchor => "anchor-key-usage",
            Role::Issuer => "issuer-key-usage",
        };
        finding(
            Severity::Refusal,
            rule,
            role,
            facts,
            "key usage lacks certificate signing (keyCertSign), so what it signs does not \
             verify: add \"cert sign\" to spec.usages on its Certificate"
                .into(),
        )
    })
}

/// The issuer's validity must end within the anchor's: identity verifies
/// the issuer against the anchors with Go's `crypto/x509`, which checks
/// every certificate of the chain for the current time, so the issuer's
/// life past the anchor's end is life identity refuses (at a restart it
/// crash-loops, `Service.Initialize`, linkerd2 `pkg/identity/service.go`).
pub(crate) fn issuer_outlives_anchor(anchor: &Facts, issuer: &Facts) -> Option<Finding> {
    (issuer.not_after > anchor.not_after).then(|| {
        finding(
            Severity::Refusal,
            "issuer-outlives-anchor",
            Role::Issuer,
            issuer,
            format!(
                "expires {} after its trust anchor {} does, and identity refuses an issuer \
                 whose anchor has expired: give it a spec.duration within the anchor's",
                human(issuer.not_after - anchor.not_after),
                anchor.object
            ),
        )
    })
}

/// The anchor must outlive the run: identity re-verifies the issuer it
/// holds against the anchors at every restart, and the rotation restarts
/// it while the old issuer (signed by this anchor) is still in use.
pub(crate) fn anchor_lifetime(anchor: &Facts, limits: &Limits) -> Option<Finding> {
    let left = anchor.not_after - limits.now;
    (left < limits.run_seconds).then(|| {
        finding(
            Severity::Refusal,
            "anchor-lifetime",
            Role::Anchor,
            anchor,
            format!(
                "{}, within the {} a rotation may take (renewalMarginSeconds): identity \
                 verifies its issuer against it at every restart",
                expires_in(left),
                human(limits.run_seconds)
            ),
        )
    })
}

/// The issuer must outlive the leaf lifetime and the run. Identity clamps
/// every leaf to the issuer's end; a full rotation renews the issuer only
/// after the whole mesh restarted onto the new anchor, so an issuer ending
/// sooner takes every proxy's identity with it. An issuer-only run renews
/// it first: there it is a warning.
pub(crate) fn issuer_lifetime(issuer: &Facts, limits: &Limits) -> Option<Finding> {
    let left = issuer.not_after - limits.now;
    let need = LEAF_LIFETIME_SECONDS.max(limits.run_seconds);
    (left < need).then(|| {
        let (severity, advice) = if limits.full {
            (
                Severity::Refusal,
                "renew the issuer first (mode: issuer-only), then rotate the anchor",
            )
        } else {
            (Severity::Warning, "this run renews it first")
        };
        finding(
            severity,
            "issuer-lifetime",
            Role::Issuer,
            issuer,
            format!(
                "{}, within the {} leaf lifetime Linkerd clamps every proxy's leaf to: {advice}",
                expires_in(left),
                human(LEAF_LIFETIME_SECONDS)
            ),
        )
    })
}

/// Whether this run re-issues the certificate: the issuer always, the
/// anchor in a full rotation.
fn reissued(role: Role, limits: &Limits) -> bool {
    role == Role::Issuer || limits.full
}

/// When cert-manager renews it on its own next, once this run is over: a
/// certificate this run re-issues renews one renewal period (`duration -
/// renewBefore`, read as `renewalTime - notBefore`) after now; one it
/// leaves renews at its `renewalTime` (cert-manager's trigger controller).
fn next_automatic_renewal(role: Role, facts: &Facts, limits: &Limits) -> Option<i64> {
    if facts.renewal_disabled {
        return None;
    }
    let at = facts.renewal_time?;
    if reissued(role, limits) {
        Some(limits.now + (at - facts.not_before))
    } else {
        Some(at)
    }
}

/// cert-manager renewing on its own before the next scheduled run. The
/// anchor: refused, since an anchor renewed unattended enters the bundle
/// with no proxy restarted, and the next issuer renewal signs with it (the
/// CA issuer signs with whatever its Secret holds), so new leaves chain to
/// an anchor no proxy trusts. The issuer: a warning, since between
/// rotations it signs with the anchor every proxy trusts (Linkerd's own
/// setup renews it daily), but it would overtake a rotation left stopped
/// between renewing the anchor and renewing the issuer.
pub(crate) fn renews_before_next_run(
    role: Role,
    facts: &Facts,
    limits: &Limits,
) -> Option<Finding> {
    let at = next_automatic_renewal(role, facts, limits)?;
    let in_ = at - limits.now;
    if in_ >= limits.next_run_seconds {
        return None;
    }
    let (severity, rule, why) = match role {
        Role::Anchor => (
            Severity::Refusal,
            "anchor-renews-before-next-run",
            "an anchor renewed unattended enters the bundle with no proxy restarted, and the \
             next issuer renewal signs with it: make duration - renewBefore longer than the \
             schedule interval, or set spec.renewal.policy: Disabled",
        ),
        Role::Issuer => (
            Severity::Warning,
            "issuer-renews-before-next-run",
            "harmless between rotations, but it would overtake a rotation stopped between \
             renewing the anchor and the issuer",
        ),
    };
    Some(finding(
        severity,
        rule,
        role,
        facts,
        format!(
            "cert-manager renews it on its own in {}, before the next scheduled run (within {}): {why}",
            human(in_),
            human(limits.next_run_seconds)
        ),
    ))
}

/// With automatic renewal disabled only rotor renews it, so it must live
/// until the next scheduled run: what this run issues lives one
/// `duration` (read as `notAfter - notBefore`); what it leaves lives until
/// its `notAfter`.
pub(crate) fn expires_before_next_run(
    role: Role,
    facts: &Facts,
    limits: &Limits,
) -> Option<Finding> {
    if !facts.renewal_disabled {
        return None;
    }
    let (lives, severity, what) = if reissued(role, limits) {
        (
            facts.not_after - facts.not_before,
            Severity::Refusal,
            "what this run issues lives",
        )
    } else {
        (
            facts.not_after - limits.now,
            Severity::Warning,
            "it has left",
        )
    };
    (lives < limits.next_run_seconds).then(|| {
        let rule = match role {
            Role::Anchor => "anchor-expires-before-next-run",
            Role::Issuer => "issuer-expires-before-next-run",
        };
        finding(
            severity,
            rule,
            role,
            facts,
            format!(
                "automatic renewal is disabled and {what} {}, less than the {} until the next \
                 scheduled run: lengthen spec.duration or run rotor more often",
                human(lives),
                human(limits.next_run_seconds)
            ),
        )
    })
}

fn expires_in(left: i64) -> String {
    if left <= 0 {
        format!("expired {} ago", human(-left))
    } else {
        format!("expires in {}", human(left))
    }
}
