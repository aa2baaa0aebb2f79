//! `mode: staged`: two anchor Certificates whose roles alternate. The CA
//! issuer that signs identity's issuer reads the *current* anchor's Secret;
//! the *next* anchor signs nothing, but the bundle holds it and every proxy
//! trusts it. A rotation points the CA issuer at the next anchor
//! (switch-signing-anchor), renews identity's issuer from it, and once every
//! leaf chains to it renews the retired anchor's Certificate: a fresh key,
//! the next anchor of the following rotation (renew-retired-anchor). rotor
//! never reads or copies an anchor's key: it patches the issuer's
//! `spec.ca.secretName`.
//!
//! The roles come from the cluster, not the configuration: the anchor
//! whose Secret the CA issuer names is the current one.

use super::Config;
use super::plan::{Record, StagedRoles, Start, Step, other_mode_in_progress};
use super::run::Run;
use crate::certificates::{self, Certificate, Issuer};
use crate::certs::{self, Named};
use crate::fingerprint::short;
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use crate::{CallContext, RotorError};

/// The CA issuer named by identity's issuer Certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IssuerRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for IssuerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind.as_str() {
            "ClusterIssuer" => write!(f, "ClusterIssuer {}", self.name),
            kind => write!(f, "{kind} {}/{}", self.namespace, self.name),
        }
    }
}

impl IssuerRef {
    /// The issuer that signs `identity_issuer`.
    pub fn of(identity_issuer: &Certificate) -> IssuerRef {
        IssuerRef {
            kind: identity_issuer.issuer_kind.clone(),
            namespace: identity_issuer.namespace.clone(),
            name: identity_issuer.issuer_name.clone(),
        }
    }

    pub fn get(&self) -> Result<Issuer, RotorError> {
        certificates::get_issuer(&self.kind, &self.namespace, &self.name)
            .call(|| format!("get {self}"))
    }

    /// The Secret the issuer signs with (`spec.ca.secretName`).
    fn signing_secret(issuer: &Issuer, me: &IssuerRef) -> Result<String, RotorError> {
        issuer.ca_secret_name.clone().ok_or_else(|| {
            RotorError::State(format!(
                "{me} signs identity's issuer but is not a CA issuer (no spec.ca.secretName): \
                 mode staged needs one"
            ))
        })
    }
}

/// The two anchors as the cluster holds them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFacts {
    /// The Certificate whose Secret the CA issuer signs with.
    pub signing: String,
    /// Each anchor Certificate's name and its Secret's fingerprint.
    pub anchors: [(String, String); 2],
}

impl StagedFacts {
    fn fingerprint(&self, cert: &str) -> Option<&str> {
        self.anchors
            .iter()
            .find(|(name, _)| name == cert)
            .map(|(_, fp)| fp.as_str())
    }

    fn other(&self, cert: &str) -> &str {
        let (a, b) = (&self.anchors[0].0, &self.anchors[1].0);
        if a == cert { b } else { a }
    }
}

/// Read the next anchor (`a` is the trust anchor's Certificate) and the
/// CA issuer; the Certificates (current first) and the facts `decide`
/// judges a record by.
pub(super) fn read(
    cfg: &Config,
    a: Certificate,
    identity_issuer: &Certificate,
) -> Result<([Certificate; 2], StagedFacts), RotorError> {
    let next = cfg
        .next_anchor
        .as_ref()
        .ok_or_else(|| RotorError::Config("mode staged needs nextAnchor".into()))?;
    let b = certs::get(&next.named())?;
    let issuer = IssuerRef::of(identity_issuer);
    if issuer.kind != "ClusterIssuer" && issuer.namespace != a.namespace {
        return Err(RotorError::State(format!(
            "{issuer} reads Secrets in {}, but the anchors' Secrets are in {}: mode staged needs \
             the CA issuer where the anchors are (or a ClusterIssuer)",
            issuer.namespace, a.namespace
        )));
    }
    let secret = IssuerRef::signing_secret(&issuer.get()?, &issuer)?;
    let [current, other] = if a.secret_name == secret {
        [a, b]
    } else if b.secret_name == secret {
        [b, a]
    } else {
        return Err(RotorError::State(format!(
            "{issuer} signs with secret {secret}, which neither anchor Certificate writes \
             ({}/{} writes {}, {}/{} writes {}): point it at one of them",
            a.namespace, a.name, a.secret_name, b.namespace, b.name, b.secret_name
        )));
    };
    let fingerprint = |c: &Certificate| -> Result<String, RotorError> {
        Ok(certs::secret_certificate(&Named::new(&c.namespace, &c.secret_name))?.1)
    };
    let facts = StagedFacts {
        signing: current.name.clone(),
        anchors: [
            (current.name.clone(), fingerprint(&current)?),
            (other.name.clone(), fingerprint(&other)?),
        ],
    };
    Ok(([current, other], facts))
}

/// The roles of a fresh staged rotation.
pub(super) fn fresh_roles(facts: &StagedFacts) -> Result<(StagedRoles, String), RotorError> {
    let successor = facts.other(&facts.signing).to_string();
    let (current, next) = (&facts.anchors[0].1, &facts.anchors[1].1);
    if current == next {
        return Err(RotorError::State(format!(
            "both anchor Certificates hold the same certificate {}: renew {successor} first so \
             the next anchor is a key of its own",
            short(current)
        )));
    }
    let roles = StagedRoles {
        retiring: facts.signing.clone(),
        successor,
        new_next: None,
    };
    Ok((roles, next.clone()))
}

/// Where a staged run starts: afresh, or at the record's step when the
/// anchors and the CA issuer are where that step left them.
pub fn decide(record: Option<Record>, facts: &StagedFacts) -> Result<Start, String> {
    let record = match record {
        Some(r) if r.next != Step::Done => r,
        _ => return Ok(Start::Fresh),
    };
    if record.mode != super::Mode::Staged {
        return Err(other_mode_in_progress(&record));
    }
    let Some(roles) = record.staged.clone() else {
        return Err("the progress record lacks the staged anchors' roles; clear it".into());
    };
    let next = record.next;
    let mismatch = |what: String, want: &str, got: &str| {
        Err(format!(
            "the recorded rotation (next step {}) expects {what} to be {} but the cluster holds \
             {}: it changed outside rotor; check the anchors and clear the progress record",
            next.name(),
            short(want),
            short(got)
        ))
    };
    let (Some(retiring), Some(successor)) = (
        facts.fingerprint(&roles.retiring),
        facts.fingerprint(&roles.successor),
    ) else {
        return Err(format!(
            "the recorded rotation moves from {} to {}, but the configured anchors are {} and {}: \
             clear the progress record or restore the configuration",
            roles.retiring, roles.successor, facts.anchors[0].0, facts.anchors[1].0
        ));
    };
    let new = record.new_anchor.clone().unwrap_or_default();
    if successor != new {
        return mismatch(format!("anchor {}", roles.successor), &new, successor);
    }
    let old = record.anchor_before.fingerprint.clone();
    let old = old.as_str();
    match (next, &roles.new_next) {
        (s, _) if s < Step::RenewRetiredAnchor && retiring != old => {
            return mismatch(format!("anchor {}", roles.retiring), old, retiring);
        }
        (s, Some(new_next)) if s > Step::RenewRetiredAnchor && retiring != new_next => {
            return mismatch(format!("anchor {}", roles.retiring), new_next, retiring);
        }
        (s, None) if s > Step::RenewRetiredAnchor => {
            return Err("the progress record lacks the renewed next anchor; clear it".into());
        }
        _ => {}
    }
    let signing_ok = match next {
        s if s < Step::SwitchSigningAnchor => facts.signing == roles.retiring,
        Step::SwitchSigningAnchor => true,
        _ => facts.signing == roles.successor,
    };
    if !signing_ok {
        return Err(format!(
            "the recorded rotation (next step {}) expects the CA issuer to sign with {}'s Secret \
             but it signs with {}'s: it changed outside rotor; check it and clear the progress \
             record",
            next.name(),
            if next < Step::SwitchSigningAnchor {
                &roles.retiring
            } else {
                &roles.successor
            },
            facts.signing
        ));
    }
    let mut record = record;
    // As in the other modes: repeat the restart round before a step that
    // has not begun, so what was left behind is brought along.
    match record.next {
        Step::RenewIssuer if record.issuer_requested_at.is_none() => {
            record.next = Step::TrustNewAnchor;
        }
        Step::RenewRetiredAnchor if retiring == old => record.next = Step::AdoptNewIssuer,
        _ => {}
    }
    Ok(Start::Resume(Box::new(record)))
}

impl Run<'_> {
    fn roles(&self) -> Result<StagedRoles, RotorError> {
        self.rec.staged.clone().ok_or_else(|| {
            RotorError::State("the progress record lacks the staged anchors' roles".into())
        })
    }

    /// An anchor Certificate of the staged pair, by name.
    fn anchor_certificate(&self, name: &str) -> Named {
        Named::new(&self.cfg.trust_anchor.namespace, name)
    }

    /// The Secret of the anchor that signs the new issuer: the successor's
    /// (staged) or the trust anchor's.
    pub(super) fn signing_anchor_secret(&self) -> Result<Named, RotorError> {
        match &self.rec.staged {
            Some(roles) => {
                let cert = certs::get(&self.anchor_certificate(&roles.successor))?;
                Ok(Named::new(&cert.namespace, &cert.secret_name))
            }
            None => super::anchor::anchor_secret(&self.cfg),
        }
    }

    /// Step switch-signing-anchor: point the CA issuer at the successor's
    /// Secret (the anchor every proxy trusts since the round before) and
    /// wait until cert-manager reports it Ready with it.
    pub(super) fn switch_signing_anchor(&mut self) -> Result<((), String), RotorError> {
        let roles = self.roles()?;
        // Before the issuer may sign with it, as renew-issuer checks again.
        if !self.dry_run {
            self.wait_mesh_trusts_new_anchor()?;
        }
        let identity_issuer = certs::get(&self.cfg.identity_issuer.named())?;
        let issuer = IssuerRef::of(&identity_issuer);
        let secret = self.signing_anchor_secret()?;
        let (_, fp) = certs::secret_certificate(&secret)?;
        if !self.dry_run && Some(&fp) != self.rec.new_anchor.as_ref() {
            return Err(RotorError::State(format!(
                "{secret} holds {} but the bundle the mesh trusts holds {} as the next anchor: \
                 {} changed outside rotor",
                short(&fp),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?"),
                roles.successor
            )));
        }
        let now = IssuerRef::signing_secret(&issuer.get()?, &issuer)?;
        if now != secret.name {
            certificates::set_ca_issuer_secret(
                &issuer.kind,
                &issuer.namespace,
                &issuer.name,
                &secret.name,
            )
            .call(|| format!("point {issuer} at secret {}", secret.name))?;
        }
        if self.dry_run {
            return Ok((
                (),
                format!("would point {issuer} at {secret} (anchor {})", short(&fp)),
            ));
        }
        let timeout = self.cfg.deadlines.renewal_seconds;
        wait_for(&HostClock, "ca-issuer-ready", timeout, POLL_SECONDS, || {
            let now = issuer.get()?;
            Ok(
                match (
                    now.ca_secret_name.as_deref() == Some(&secret.name),
                    now.ready,
                ) {
                    (true, true) => Check::Pass(()),
                    (false, _) => Check::Fail(format!(
                        "{issuer} signs with {} again: changed outside rotor",
                        now.ca_secret_name.as_deref().unwrap_or("no Secret")
                    )),
                    (true, false) => {
                        Check::Pending(format!("{issuer} not Ready for its generation"))
                    }
                },
            )
        })?;
        Ok((
            (),
            format!(
                "{issuer} signs with {secret} (anchor {}) instead of {}'s",
                short(&fp),
                roles.retiring
            ),
        ))
    }

    /// Step renew-retired-anchor: once nothing needs the retired anchor,
    /// renew its Certificate. The fresh key is the next anchor: the bundle
    /// drops the retired one and holds the new pair.
    pub(super) fn renew_retired_anchor(&mut self) -> Result<((), String), RotorError> {
        let mut roles = self.roles()?;
        let cert = self.anchor_certificate(&roles.retiring);
        let c = certs::get(&cert)?;
        let (_, now_fp) = certs::secret_certificate(&Named::new(&c.namespace, &c.secret_name))?;
        let before = self.rec.anchor_before.clone();
        if now_fp == before.fingerprint {
            self.refuse_while_old_anchor_used()?;
            certs::request_renewal_unless_issuing(&cert, c.issuing, "the retired anchor")?;
            if self.dry_run {
                return Ok((
                    (),
                    format!("would renew {cert}: the retired anchor's fresh key is the next one"),
                ));
            }
        }
        let renewed = certs::wait_renewed(
            &cert,
            &before,
            "retired-anchor-renewed",
            self.cfg.deadlines.renewal_seconds,
        )?;
        roles.new_next = Some(renewed.fingerprint.clone());
        self.rec.staged = Some(roles);
        Ok((
            (),
            format!(
                "anchor {} retired: {cert} renewed to {} (revision {}), the next anchor",
                short(&before.fingerprint),
                short(&renewed.fingerprint),
                renewed.revision
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::Baseline;
    use crate::rotation::Mode;

    const A: &str = "linkerd-trust-anchor";
    const B: &str = "linkerd-trust-anchor-next";

    fn facts(signing: &str, a: &str, b: &str) -> StagedFacts {
        StagedFacts {
            signing: signing.into(),
            anchors: [(A.into(), a.into()), (B.into(), b.into())],
        }
    }

    /// A staged rotation from A ("old") to B ("new"), at `next`.
    fn record(next: Step, new_next: Option<&str>) -> Record {
        let mut r = Record::fresh(
            Mode::Staged,
            0,
            Baseline {
                revision: Some(1),
                fingerprint: "old".into(),
            },
        );
        r.next = next;
        r.new_anchor = Some("new".into());
        r.staged = Some(StagedRoles {
            retiring: A.into(),
            successor: B.into(),
            new_next: new_next.map(String::from),
        });
        r
    }

    fn resumes_at(r: Record, f: &StagedFacts) -> Step {
        match decide(Some(r), f) {
            Ok(Start::Resume(r)) => r.next,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn staged_order_visits_its_steps_once() {
        let mut s = Step::first(Mode::Staged);
        let mut seen = vec![s];
        while s != Step::Done {
            s = s.next(Mode::Staged);
            seen.push(s);
        }
        let names: Vec<&str> = seen.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "bundle-holds-old-and-new",
                "trust-new-anchor",
                "switch-signing-anchor",
                "renew-issuer",
                "adopt-new-issuer",
                "renew-retired-anchor",
                "bundle-holds-new-pair",
                "drop-old-anchor",
                "done"
            ]
        );
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "steps go forward");
    }

    #[test]
    fn fresh_roles_follow_the_issuer() {
        let (roles, next) = fresh_roles(&facts(B, "x", "y")).unwrap();
        assert_eq!((roles.retiring.as_str(), roles.successor.as_str()), (B, A));
        // anchors[0] is the current one as `read` orders them.
        assert_eq!(next, "y");
        let err = fresh_roles(&facts(A, "same", "same")).unwrap_err();
        assert!(err.to_string().contains("same certificate"), "{err}");
    }

    #[test]
    fn resumes_where_the_cluster_matches_the_record() {
        assert_eq!(decide(None, &facts(A, "old", "new")), Ok(Start::Fresh));
        let r = record(Step::TrustNewAnchor, None);
        assert_eq!(resumes_at(r, &facts(A, "old", "new")), Step::TrustNewAnchor);
        // Killed mid-switch: the issuer may name either anchor.
        for signing in [A, B] {
            let r = record(Step::SwitchSigningAnchor, None);
            assert_eq!(
                resumes_at(r, &facts(signing, "old", "new")),
                Step::SwitchSigningAnchor
            );
        }
        let mut r = record(Step::RenewIssuer, None);
        r.issuer_requested_at = Some(5);
        assert_eq!(resumes_at(r, &facts(B, "old", "new")), Step::RenewIssuer);
        // Killed during the retired anchor's renewal, after it was issued.
        let r = record(Step::RenewRetiredAnchor, None);
        assert_eq!(
            resumes_at(r, &facts(B, "fresh", "new")),
            Step::RenewRetiredAnchor
        );
        let r = record(Step::DropOldAnchor, Some("fresh"));
        assert_eq!(
            resumes_at(r, &facts(B, "fresh", "new")),
            Step::DropOldAnchor
        );
    }

    #[test]
    fn resumes_repeat_the_round_before_a_step_not_begun() {
        let r = record(Step::RenewIssuer, None);
        assert_eq!(resumes_at(r, &facts(B, "old", "new")), Step::TrustNewAnchor);
        let r = record(Step::RenewRetiredAnchor, None);
        assert_eq!(resumes_at(r, &facts(B, "old", "new")), Step::AdoptNewIssuer);
    }

    #[test]
    fn refuses_what_changed_outside_rotor() {
        let r = record(Step::TrustNewAnchor, None);
        let err = decide(Some(r), &facts(A, "old", "third")).unwrap_err();
        assert!(
            err.contains(
                "expects anchor linkerd-trust-anchor-next to be new but the cluster holds third"
            ),
            "{err}"
        );
        let r = record(Step::TrustNewAnchor, None);
        let err = decide(Some(r), &facts(B, "old", "new")).unwrap_err();
        assert!(err.contains("expects the CA issuer to sign with"), "{err}");
        let r = record(Step::AdoptNewIssuer, None);
        let err = decide(Some(r), &facts(A, "old", "new")).unwrap_err();
        assert!(
            err.contains("but it signs with linkerd-trust-anchor's"),
            "{err}"
        );
        let r = record(Step::DropOldAnchor, Some("fresh"));
        assert!(decide(Some(r), &facts(B, "other", "new")).is_err());
        let mut full = record(Step::TrustNewAnchor, None);
        full.mode = Mode::Full;
        let err = decide(Some(full), &facts(A, "old", "new")).unwrap_err();
        assert!(err.contains("a full rotation is in progress"), "{err}");
    }
}
