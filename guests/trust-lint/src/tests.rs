//! Each rule on a good and a bad case, starting from Linkerd's documented
//! setup (an ECDSA P-256 anchor for a year renewed 30 days early, an
//! ECDSA P-256 issuer for 48 h renewed 25 h early), which passes.

use super::*;

const NOW: i64 = 1_000_000_000;
const DAY: i64 = 86_400;

fn anchor() -> Facts {
    Facts {
        object: "cert-manager/linkerd-trust-anchor".into(),
        key_algorithm: "ecdsa".into(),
        key_bits: 256,
        is_ca: true,
        key_cert_sign: Some(true),
        not_before: NOW,
        not_after: NOW + 365 * DAY,
        renewal_time: Some(NOW + 335 * DAY),
        renewal_disabled: false,
    }
}

fn issuer() -> Facts {
    Facts {
        object: "linkerd/linkerd-identity-issuer".into(),
        key_algorithm: "ecdsa".into(),
        key_bits: 256,
        is_ca: true,
        key_cert_sign: Some(true),
        not_before: NOW,
        not_after: NOW + 48 * 3600,
        renewal_time: Some(NOW + 23 * 3600),
        renewal_disabled: false,
    }
}

fn limits(full: bool) -> Limits {
    Limits {
        now: NOW,
        run_seconds: DEFAULT_RUN_SECONDS,
        next_run_seconds: DEFAULT_NEXT_RUN_SECONDS,
        full,
    }
}

fn rules(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
    findings.iter().map(|f| (f.rule, f.severity)).collect()
}

/// The findings of `anchor` and `issuer` other than the documented setup's
/// one warning (the issuer renews daily, before a monthly run).
fn refusals(anchor: &Facts, issuer: &Facts, full: bool) -> Vec<(&'static str, Severity)> {
    rules(&lint(anchor, issuer, &limits(full)))
        .into_iter()
        .filter(|(rule, _)| *rule != "issuer-renews-before-next-run")
        .collect()
}

#[test]
fn the_documented_setup_passes_with_one_warning() {
    for full in [true, false] {
        let found = lint(&anchor(), &issuer(), &limits(full));
        assert_eq!(
            rules(&found),
            vec![("issuer-renews-before-next-run", Severity::Warning)],
            "{found:?}"
        );
        assert_eq!(first_refusal(&found), None);
    }
}

#[test]
fn anchor_keys_linkerd_accepts() {
    for (alg, bits) in [("ecdsa", 256), ("rsa", 2048), ("rsa", 4096)] {
        let a = Facts {
            key_algorithm: alg.into(),
            key_bits: bits,
            ..anchor()
        };
        assert_eq!(refusals(&a, &issuer(), true), vec![], "{alg} {bits}");
    }
    for (alg, bits, name) in [
        ("rsa", 1024, "RSA-1024"),
        ("rsa", 3072, "RSA-3072"),
        ("rsa", 8192, "RSA-8192"),
        ("ecdsa", 384, "ECDSA P-384"),
        ("ed25519", 256, "Ed25519"),
    ] {
        let a = Facts {
            key_algorithm: alg.into(),
            key_bits: bits,
            ..anchor()
        };
        let found = lint(&a, &issuer(), &limits(true));
        let first = first_refusal(&found).expect("refused");
        assert_eq!(first.rule, "anchor-key");
        let line = first.line();
        assert!(
            line.starts_with("trust anchor cert-manager/linkerd-trust-anchor: has an "),
            "{line}"
        );
        assert!(line.contains(name), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn issuer_keys_linkerd_accepts() {
    assert_eq!(refusals(&anchor(), &issuer(), true), vec![]);
    for (alg, bits) in [
        ("ecdsa", 384),
        ("ecdsa", 521),
        ("rsa", 2048),
        ("ed25519", 256),
    ] {
        let i = Facts {
            key_algorithm: alg.into(),
            key_bits: bits,
            ..issuer()
        };
        assert_eq!(
            refusals(&anchor(), &i, true),
            vec![("issuer-key", Severity::Refusal)],
            "{alg} {bits}"
        );
    }
    let i = Facts {
        key_algorithm: "ecdsa".into(),
        key_bits: 384,
        ..issuer()
    };
    let found = lint(&anchor(), &i, &limits(true));
    assert_eq!(
        first_refusal(&found).expect("refused").line(),
        "identity issuer linkerd/linkerd-identity-issuer: has an ECDSA P-384 key; Linkerd \
         accepts only an ECDSA P-256 key for the identity issuer: set spec.privateKey on its \
         Certificate"
    );
}

#[test]
fn both_must_be_cas() {
    let a = Facts {
        is_ca: false,
        ..anchor()
    };
    assert_eq!(
        refusals(&a, &issuer(), true),
        vec![("anchor-not-ca", Severity::Refusal)]
    );
    let i = Facts {
        is_ca: false,
        ..issuer()
    };
    let found = lint(&anchor(), &i, &limits(false));
    let first = first_refusal(&found).expect("refused");
    assert_eq!(first.rule, "issuer-not-ca");
    assert!(first.line().contains("is not a CA"), "{}", first.line());
}

#[test]
fn key_usage_must_allow_signing_certificates_when_present() {
    let without = Facts {
        key_cert_sign: None,
        ..issuer()
    };
    assert_eq!(
        refusals(&anchor(), &without, true),
        vec![],
        "no extension, no limit"
    );
    let a = Facts {
        key_cert_sign: Some(false),
        ..anchor()
    };
    assert_eq!(
        refusals(&a, &issuer(), true),
        vec![("anchor-key-usage", Severity::Refusal)]
    );
    let i = Facts {
        key_cert_sign: Some(false),
        ..issuer()
    };
    assert_eq!(
        refusals(&anchor(), &i, true),
        vec![("issuer-key-usage", Severity::Refusal)]
    );
}

#[test]
fn the_issuer_must_end_within_its_anchor() {
    let a = Facts {
        not_after: NOW + 90 * DAY,
        renewal_time: Some(NOW + 60 * DAY),
        ..anchor()
    };
    let fits = Facts {
        not_after: NOW + 90 * DAY,
        renewal_time: Some(NOW + 89 * DAY),
        ..issuer()
    };
    assert_eq!(refusals(&a, &fits, true), vec![]);
    let outlives = Facts {
        not_after: NOW + 100 * DAY,
        renewal_time: Some(NOW + 99 * DAY),
        ..issuer()
    };
    let found = lint(&a, &outlives, &limits(true));
    let first = first_refusal(&found).expect("refused");
    assert_eq!(first.rule, "issuer-outlives-anchor");
    assert!(
        first
            .line()
            .contains("expires 10 days after its trust anchor cert-manager/linkerd-trust-anchor"),
        "{}",
        first.line()
    );
}

#[test]
fn the_anchor_must_outlive_the_run() {
    let a = Facts {
        not_after: NOW + 3 * 3600,
        renewal_time: None,
        renewal_disabled: true,
        ..anchor()
    };
    let i = Facts {
        not_after: NOW + 3 * 3600,
        ..issuer()
    };
    assert!(!rules(&lint(&a, &i, &limits(true))).contains(&("anchor-lifetime", Severity::Refusal)));
    let a = Facts {
        not_after: NOW + 3600,
        ..a
    };
    let i = Facts {
        not_after: NOW + 3600,
        ..i
    };
    let found = lint(&a, &i, &limits(false));
    let first = first_refusal(&found).expect("refused");
    assert_eq!(first.rule, "anchor-lifetime");
    assert!(
        first.line().contains("expires in 1 h, within the 2 h"),
        "{}",
        first.line()
    );
    let expired = Facts {
        not_after: NOW - 60,
        ..a
    };
    let i = Facts {
        not_after: NOW - 60,
        ..i
    };
    let found = lint(&expired, &i, &limits(true));
    assert!(
        first_refusal(&found)
            .expect("refused")
            .line()
            .contains("expired 1 min ago")
    );
}

#[test]
fn the_issuer_must_outlive_the_leaf_lifetime() {
    let ok = Facts {
        not_after: NOW + 25 * 3600,
        ..issuer()
    };
    assert_eq!(refusals(&anchor(), &ok, true), vec![]);
    let short = Facts {
        not_after: NOW + 20 * 3600,
        ..issuer()
    };
    assert_eq!(
        refusals(&anchor(), &short, true),
        vec![("issuer-lifetime", Severity::Refusal)]
    );
    // An issuer-only run renews it first: a warning.
    assert_eq!(
        refusals(&anchor(), &short, false),
        vec![("issuer-lifetime", Severity::Warning)]
    );
    let found = lint(&anchor(), &short, &limits(true));
    let line = first_refusal(&found).expect("refused").line();
    assert!(
        line.contains("expires in 20 h, within the 24 h leaf lifetime"),
        "{line}"
    );
    assert!(line.contains("mode: issuer-only"), "{line}");
}

#[test]
fn an_anchor_renewing_before_the_next_run_is_refused() {
    // Renewed every 20 days (60 d duration, 40 d renewBefore), run monthly.
    let a = Facts {
        not_after: NOW + 60 * DAY,
        renewal_time: Some(NOW + 20 * DAY),
        ..anchor()
    };
    let found = lint(&a, &issuer(), &limits(true));
    let first = first_refusal(&found).expect("refused");
    assert_eq!(first.rule, "anchor-renews-before-next-run");
    assert!(
        first.line().contains("renews it on its own in 20 days"),
        "{}",
        first.line()
    );
    assert!(
        first.line().contains("spec.renewal.policy: Disabled"),
        "{}",
        first.line()
    );
    // Renewal disabled, or a weekly schedule: nothing races.
    let off = Facts {
        renewal_disabled: true,
        ..a.clone()
    };
    assert_eq!(refusals(&off, &issuer(), true), vec![]);
    let weekly = Limits {
        next_run_seconds: 7 * DAY,
        ..limits(true)
    };
    assert_eq!(first_refusal(&lint(&a, &issuer(), &weekly)), None);
    // An issuer-only run leaves the anchor: its own renewalTime counts.
    let old = Facts {
        not_before: NOW - 330 * DAY,
        not_after: NOW + 35 * DAY,
        renewal_time: Some(NOW + 5 * DAY),
        ..anchor()
    };
    assert_eq!(
        refusals(&old, &issuer(), false),
        vec![("anchor-renews-before-next-run", Severity::Refusal)]
    );
    // A full run re-issues it: a year from now.
    assert_eq!(refusals(&old, &issuer(), true), vec![]);
}

#[test]
fn an_issuer_renewing_before_the_next_run_is_a_warning() {
    let found = lint(&anchor(), &issuer(), &limits(true));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(
        found[0].line().contains("renews it on its own in 23 h"),
        "{}",
        found[0].line()
    );
    let monthly = Facts {
        not_after: NOW + 60 * DAY,
        renewal_time: Some(NOW + 40 * DAY),
        ..issuer()
    };
    let a = Facts {
        not_after: NOW + 365 * DAY,
        ..anchor()
    };
    assert_eq!(lint(&a, &monthly, &limits(true)), vec![]);
}

#[test]
fn without_automatic_renewal_what_this_run_issues_must_last_until_the_next() {
    let short = Facts {
        renewal_disabled: true,
        ..issuer()
    };
    assert_eq!(
        refusals(&anchor(), &short, true),
        vec![("issuer-expires-before-next-run", Severity::Refusal)]
    );
    let long = Facts {
        not_after: NOW + 40 * DAY,
        renewal_disabled: true,
        ..issuer()
    };
    assert_eq!(refusals(&anchor(), &long, true), vec![]);
    // An anchor an issuer-only run leaves, expiring before the next run.
    let a = Facts {
        not_before: NOW - 300 * DAY,
        not_after: NOW + 20 * DAY,
        renewal_disabled: true,
        ..anchor()
    };
    assert_eq!(
        refusals(&a, &issuer(), false),
        vec![("anchor-expires-before-next-run", Severity::Warning)]
    );
    // A full run re-issues it for a year.
    assert_eq!(refusals(&a, &issuer(), true), vec![]);
}

#[test]
fn durations_and_keys_read_as_people_write_them() {
    assert_eq!(human(45), "45 s");
    assert_eq!(human(90 * 60), "1 h");
    assert_eq!(human(47 * 3600), "47 h");
    assert_eq!(human(31 * DAY), "31 days");
    assert_eq!(human(-120), "-2 min");
    assert_eq!(key_name("ecdsa", 256), "ECDSA P-256");
    assert_eq!(key_name("rsa", 3072), "RSA-3072");
    assert_eq!(key_name("ed25519", 256), "Ed25519");
    assert_eq!(key_name("1.2.3", 0), "1.2.3 (0 bits)");
}
