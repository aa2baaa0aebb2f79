//! The order of the rotation, the progress record, and where a run resumes.
//!
//! Every step is idempotent and the record is saved after each one, so a
//! killed run starts again at the step it was in. Where to start is decided
//! from the record *and* the cluster's facts: a record that no longer matches
//! the anchors in the cluster is refused rather than trusted.

use crate::certs::Baseline;
use crate::fingerprint::short;
use crate::mesh::SeenPod;
use serde::{Deserialize, Serialize};

use super::config::Mode;

/// The steps, in order. Restart rounds cover the control plane, then the
/// extensions, then the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Renew the trust anchor (bundle becomes {old, new}).
    RenewAnchor,
    /// Gate: the trust-roots ConfigMap holds old and new.
    BundleHoldsBoth,
    /// Restart so every proxy trusts the new anchor (staged: the next one).
    TrustNewAnchor,
    /// Staged: point the CA issuer at the next anchor's Secret.
    SwitchSigningAnchor,
    /// Renew the issuer (signed by the new anchor); identity reloads it.
    RenewIssuer,
    /// Restart so every leaf chains to the new anchor.
    AdoptNewIssuer,
    /// Copy the anchor over previous-anchor (bundle becomes {new}).
    RetireOldAnchor,
    /// Staged: renew the retired anchor's Certificate, a fresh key that
    /// becomes the next anchor (bundle becomes {new, new next}).
    RenewRetiredAnchor,
    /// Gate: the trust-roots ConfigMap holds only the new anchor.
    BundleHoldsOnlyNew,
    /// Staged gate: the trust-roots ConfigMap holds the new anchor and the
    /// new next one, nothing else.
    BundleHoldsNewPair,
    /// Restart so no proxy trusts the old anchor.
    DropOldAnchor,
    Done,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::RenewAnchor => "renew-anchor",
            Step::BundleHoldsBoth => "bundle-holds-old-and-new",
            Step::TrustNewAnchor => "trust-new-anchor",
            Step::SwitchSigningAnchor => "switch-signing-anchor",
            Step::RenewIssuer => "renew-issuer",
            Step::AdoptNewIssuer => "adopt-new-issuer",
            Step::RetireOldAnchor => "retire-old-anchor",
            Step::RenewRetiredAnchor => "renew-retired-anchor",
            Step::BundleHoldsOnlyNew => "bundle-holds-only-new",
            Step::BundleHoldsNewPair => "bundle-holds-new-pair",
            Step::DropOldAnchor => "drop-old-anchor",
            Step::Done => "done",
        }
    }

    /// The first step of a fresh run in `mode`.
    pub fn first(mode: Mode) -> Step {
        match mode {
            Mode::Full => Step::RenewAnchor,
            Mode::IssuerOnly => Step::RenewIssuer,
            // The anchor to move to is staged already: check the bundle.
            Mode::Staged => Step::BundleHoldsBoth,
        }
    }

    /// The step after this one in `mode`.
    pub fn next(self, mode: Mode) -> Step {
        match (mode, self) {
            (Mode::IssuerOnly, _) => Step::Done,
            (Mode::Full, Step::RenewAnchor) => Step::BundleHoldsBoth,
            (Mode::Full, Step::BundleHoldsBoth) => Step::TrustNewAnchor,
            (Mode::Full, Step::TrustNewAnchor | Step::SwitchSigningAnchor) => Step::RenewIssuer,
            (Mode::Full, Step::RenewIssuer) => Step::AdoptNewIssuer,
            (Mode::Full, Step::AdoptNewIssuer) => Step::RetireOldAnchor,
            (Mode::Full, Step::RetireOldAnchor | Step::RenewRetiredAnchor) => {
                Step::BundleHoldsOnlyNew
            }
            (Mode::Full, Step::BundleHoldsOnlyNew | Step::BundleHoldsNewPair) => {
                Step::DropOldAnchor
            }
            (Mode::Full, Step::DropOldAnchor | Step::Done) => Step::Done,
            (Mode::Staged, Step::RenewAnchor | Step::BundleHoldsBoth) => Step::TrustNewAnchor,
            (Mode::Staged, Step::TrustNewAnchor) => Step::SwitchSigningAnchor,
            (Mode::Staged, Step::SwitchSigningAnchor) => Step::RenewIssuer,
            (Mode::Staged, Step::RenewIssuer) => Step::AdoptNewIssuer,
            (Mode::Staged, Step::AdoptNewIssuer) => Step::RenewRetiredAnchor,
            (Mode::Staged, Step::RetireOldAnchor | Step::RenewRetiredAnchor) => {
                Step::BundleHoldsNewPair
            }
            (Mode::Staged, Step::BundleHoldsOnlyNew | Step::BundleHoldsNewPair) => {
                Step::DropOldAnchor
            }
            (Mode::Staged, Step::DropOldAnchor | Step::Done) => Step::Done,
        }
    }
}

/// What a run saves after each step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub mode: Mode,
    /// The step to run next.
    pub next: Step,
    pub started_at: i64,
    /// The anchor (fingerprint, revision) before the rotation (staged: the
    /// current one, whose Certificate is renewed at the end).
    pub anchor_before: Baseline,
    /// The anchor the rotation moves to (staged: the next one, known at
    /// the start).
    pub new_anchor: Option<String>,
    /// Staged: the two anchor Certificates' roles in this rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<StagedRoles>,
    pub issuer_before: Option<Baseline>,
    /// The control-plane pods that ran when the trust-roots ConfigMap was
    /// last seen holding what the rotation asked of it: any other
    /// control-plane pod started after, so its proxy holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_at_bundle: Option<Vec<SeenPod>>,
    /// When the issuer renewal was requested: reload events count from here.
    pub issuer_requested_at: Option<i64>,
    /// When the renewed issuer was seen in its Secret: identity replicas
    /// started before it must each report the reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_renewed_at: Option<i64>,
    pub new_issuer: Option<String>,
    /// The issuer's `notAfter` before the renewal: what identity's TTL
    /// gauge shows on a replica still serving it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_before_not_after: Option<i64>,
    /// When identity took the new issuer: older proxies may hold old leaves.
    pub issuer_reloaded_at: Option<i64>,
    /// With leaf-refresh: when the proxies' metrics showed every leaf taken
    /// after the reload, before a leaf lifetime had passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaves_proven_at: Option<i64>,
    /// Workloads restarted so far, over all runs of this rotation.
    pub restarts: u64,
}

impl Record {
    pub fn fresh(mode: Mode, now: i64, anchor_before: Baseline) -> Record {
        Record {
            mode,
            next: Step::first(mode),
            started_at: now,
            anchor_before,
            new_anchor: None,
            staged: None,
            issuer_before: None,
            pods_at_bundle: None,
            issuer_requested_at: None,
            issuer_renewed_at: None,
            new_issuer: None,
            issuer_before_not_after: None,
            issuer_reloaded_at: None,
            leaves_proven_at: None,
            restarts: 0,
        }
    }
}

/// The anchor Certificates of a staged rotation, by name (their namespace
/// is the trust anchor's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedRoles {
    /// Current at the start: signs the old issuer; renewed at the end.
    pub retiring: String,
    /// Next at the start: signs the new issuer.
    pub successor: String,
    /// The retired anchor's renewal, once seen: the next anchor after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_next: Option<String>,
}

/// The anchors as the cluster holds them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorFacts {
    /// Fingerprint of the anchor Secret's `tls.crt`.
    pub anchor: String,
    /// Fingerprint of the previous-anchor Secret's `tls.crt`; `None` when
    /// the Secret is missing.
    pub previous: Option<String>,
}

/// Where this run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// No rotation in progress: begin one.
    Fresh,
    /// Continue the recorded rotation at its `next` step.
    Resume(Box<Record>),
}

/// Decide where to start from the saved record and the anchors in the cluster.
pub fn decide(mode: Mode, record: Option<Record>, facts: &AnchorFacts) -> Result<Start, String> {
    let record = match record {
        Some(r) if r.next != Step::Done => r,
        _ => {
            let previous = facts.previous.as_deref().unwrap_or_default();
            if facts.anchor != previous {
                return Err(format!(
                    "previous-anchor ({}) differs from the anchor ({}) and no rotation is recorded: \
                     an anchor renewal happened outside rotor or an earlier record was lost. The \
                     bundle trusts both anchors; finish that rotation by hand or copy the anchor \
                     over previous-anchor once every proxy has been restarted, then run again",
                    short(previous),
                    short(&facts.anchor)
                ));
            }
            return Ok(Start::Fresh);
        }
    };
    if record.mode != mode {
        return Err(other_mode_in_progress(&record));
    }
    let old = &record.anchor_before.fingerprint;
    let mismatch = |what: &str, want: &str, got: &str| {
        Err(format!(
            "the recorded rotation (next step {}) expects the {what} to be {} but the cluster holds \
             {}: it changed outside rotor; check the anchors and clear the progress record",
            record.next.name(),
            short(want),
            short(got)
        ))
    };
    if mode == Mode::IssuerOnly {
        if facts.anchor != *old {
            return mismatch("anchor", old, &facts.anchor);
        }
        return Ok(Start::Resume(Box::new(record)));
    }
    // The anchor: the old one until the renewal is seen, the new one after.
    match (&record.new_anchor, record.next > Step::RenewAnchor) {
        (Some(new), true) if facts.anchor != *new => return mismatch("anchor", new, &facts.anchor),
        (None, true) => return Err("the progress record lacks the new anchor; clear it".into()),
        _ => {}
    }
    // previous-anchor: the old anchor until retirement, the new one after.
    // Missing only where retirement's replacement (delete, then create) was
    // cut short; anywhere else the bundle may have lost the old anchor.
    let Some(previous) = &facts.previous else {
        if record.next == Step::RetireOldAnchor {
            return Ok(Start::Resume(Box::new(record)));
        }
        return Err(format!(
            "the recorded rotation (next step {}) needs the previous-anchor Secret but it is \
             missing: it was deleted outside rotor; check that the trust bundle still holds \
             the old anchor {}, recreate the Secret with that certificate and run again",
            record.next.name(),
            short(old)
        ));
    };
    let previous_ok = match record.next {
        s if s < Step::RetireOldAnchor => previous == old,
        Step::RetireOldAnchor => previous == old || Some(previous) == record.new_anchor.as_ref(),
        _ => Some(previous) == record.new_anchor.as_ref(),
    };
    if !previous_ok {
        let want = if record.next <= Step::RetireOldAnchor {
            old.clone()
        } else {
            record.new_anchor.clone().unwrap_or_default()
        };
        return mismatch("previous-anchor", &want, previous);
    }
    Ok(Start::Resume(Box::new(step_back(record, facts))))
}

/// Restart rounds are idempotent, so a resumed run repeats the round before
/// a destructive step that has not begun: whatever was left behind (a
/// workload excluded then, or restarted by hand since) is brought along
/// instead of failing the next gate.
fn step_back(mut record: Record, facts: &AnchorFacts) -> Record {
    match record.next {
        Step::RenewIssuer if record.issuer_requested_at.is_none() => {
            record.next = Step::TrustNewAnchor;
        }
        Step::RetireOldAnchor
            if facts.previous.as_ref() == Some(&record.anchor_before.fingerprint) =>
        {
            record.next = Step::AdoptNewIssuer;
        }
        _ => {}
    }
    record
}

/// Why a run in another mode than `record`'s may not start.
pub fn other_mode_in_progress(record: &Record) -> String {
    format!(
        "a {} rotation is in progress (next step {}); run it to the end with that mode or \
         clear the progress record",
        mode_name(record.mode),
        record.next.name()
    )
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Full => "full",
        Mode::IssuerOnly => "issuer-only",
        Mode::Staged => "staged",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(anchor: &str, previous: &str) -> AnchorFacts {
        AnchorFacts {
            anchor: anchor.into(),
            previous: Some(previous.into()),
        }
    }

    fn record(next: Step, new_anchor: Option<&str>) -> Record {
        let mut r = Record::fresh(
            Mode::Full,
            0,
            Baseline {
                revision: Some(1),
                fingerprint: "old".into(),
            },
        );
        r.next = next;
        r.new_anchor = new_anchor.map(String::from);
        r
    }

    #[test]
    fn full_order_visits_every_step_once() {
        let mut s = Step::first(Mode::Full);
        let mut seen = vec![s];
        while s != Step::Done {
            s = s.next(Mode::Full);
            seen.push(s);
        }
        assert_eq!(seen.len(), 9);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "steps go forward");
        assert_eq!(
            Step::first(Mode::IssuerOnly).next(Mode::IssuerOnly),
            Step::Done
        );
    }

    #[test]
    fn fresh_needs_previous_equal_to_anchor() {
        assert_eq!(decide(Mode::Full, None, &facts("a", "a")), Ok(Start::Fresh));
        let err = decide(Mode::Full, None, &facts("b", "a")).unwrap_err();
        assert!(err.contains("no rotation is recorded"), "{err}");
        let done = record(Step::Done, Some("new"));
        assert_eq!(
            decide(Mode::Full, Some(done), &facts("new", "new")),
            Ok(Start::Fresh)
        );
    }

    #[test]
    fn resumes_when_facts_match_the_record() {
        // Killed during the renewal: the anchor may be old or already new.
        for anchor in ["old", "new"] {
            let r = record(Step::RenewAnchor, None);
            assert!(matches!(
                decide(Mode::Full, Some(r), &facts(anchor, "old")),
                Ok(Start::Resume(_))
            ));
        }
        let r = record(Step::AdoptNewIssuer, Some("new"));
        assert!(matches!(
            decide(Mode::Full, Some(r), &facts("new", "old")),
            Ok(Start::Resume(_))
        ));
        // Killed during retirement: previous-anchor may be old or new.
        for previous in ["old", "new"] {
            let r = record(Step::RetireOldAnchor, Some("new"));
            assert!(matches!(
                decide(Mode::Full, Some(r), &facts("new", previous)),
                Ok(Start::Resume(_))
            ));
        }
        let r = record(Step::DropOldAnchor, Some("new"));
        assert!(matches!(
            decide(Mode::Full, Some(r), &facts("new", "new")),
            Ok(Start::Resume(_))
        ));
    }

    #[test]
    fn resumes_repeat_the_round_before_a_destructive_step() {
        let resume_at = |r: Record, f: AnchorFacts| match decide(Mode::Full, Some(r), &f) {
            Ok(Start::Resume(r)) => r.next,
            other => panic!("{other:?}"),
        };
        let r = record(Step::RenewIssuer, Some("new"));
        assert_eq!(
            resume_at(r.clone(), facts("new", "old")),
            Step::TrustNewAnchor
        );
        let mut requested = r;
        requested.issuer_requested_at = Some(5);
        assert_eq!(resume_at(requested, facts("new", "old")), Step::RenewIssuer);
        let r = record(Step::RetireOldAnchor, Some("new"));
        assert_eq!(
            resume_at(r.clone(), facts("new", "old")),
            Step::AdoptNewIssuer
        );
        // The copy already happened: the bundle is dropping the old anchor.
        assert_eq!(resume_at(r, facts("new", "new")), Step::RetireOldAnchor);
        let r = record(Step::BundleHoldsOnlyNew, Some("new"));
        assert_eq!(resume_at(r, facts("new", "new")), Step::BundleHoldsOnlyNew);
    }

    #[test]
    fn refuses_a_record_the_cluster_contradicts() {
        let r = record(Step::TrustNewAnchor, Some("new"));
        let err = decide(Mode::Full, Some(r), &facts("third", "old")).unwrap_err();
        assert!(
            err.contains("expects the anchor to be new but the cluster holds third"),
            "{err}"
        );
        let r = record(Step::RenewIssuer, Some("new"));
        let err = decide(Mode::Full, Some(r), &facts("new", "new")).unwrap_err();
        assert!(err.contains("previous-anchor"), "{err}");
        let r = record(Step::BundleHoldsOnlyNew, Some("new"));
        assert!(decide(Mode::Full, Some(r), &facts("new", "old")).is_err());
    }

    #[test]
    fn a_missing_previous_anchor_is_resumable_only_at_retirement() {
        let missing = AnchorFacts {
            anchor: "new".into(),
            previous: None,
        };
        let r = record(Step::RetireOldAnchor, Some("new"));
        match decide(Mode::Full, Some(r), &missing) {
            Ok(Start::Resume(r)) => assert_eq!(r.next, Step::RetireOldAnchor),
            other => panic!("{other:?}"),
        }
        let r = record(Step::AdoptNewIssuer, Some("new"));
        let err = decide(Mode::Full, Some(r), &missing).unwrap_err();
        assert!(
            err.contains("needs the previous-anchor Secret but it is missing"),
            "{err}"
        );
        assert!(err.contains("old anchor old"), "{err}");
    }

    #[test]
    fn refuses_another_mode_in_progress() {
        let r = record(Step::TrustNewAnchor, Some("new"));
        let err = decide(Mode::IssuerOnly, Some(r), &facts("new", "old")).unwrap_err();
        assert!(err.contains("a full rotation is in progress"), "{err}");
    }

    #[test]
    fn record_round_trips_as_json() {
        let r = record(Step::RetireOldAnchor, Some("new"));
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains(r#""next":"retire-old-anchor""#), "{text}");
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
