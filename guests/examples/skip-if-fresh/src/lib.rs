//! Site policy `skip-if-fresh`: rotate the trust anchor (and the issuer)
//! only when the anchor is at least `minAgeDays` old; a younger anchor ends
//! the run successfully, saying so and changing nothing. A rotation already
//! in progress (a saved progress record) is always resumed: its new anchor
//! is young by design.
//!
//! Configuration: `{"site": {"minAgeDays": 300}, "rotation": {...}}`.

use rotor_sdk::certs::{self, Named};
use rotor_sdk::rotation::{self, SiteConfig};
use rotor_sdk::{CallContext, Error, KeyValue, Policy, RotorError, Summary, clock, record, x509};
use serde::Deserialize;

const DAY: i64 = 86_400;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fresh {
    /// Rotate only an anchor at least this many days old.
    min_age_days: u32,
}

/// The anchor Certificate and whole days since its current certificate was
/// issued: cert-manager's `status.notBefore`, else the Secret's certificate.
fn anchor_age_days(cfg: &rotation::Config) -> Result<(String, i64), RotorError> {
    let cert = certs::get(&cfg.trust_anchor.named())?;
    let name = format!("{}/{}", cert.namespace, cert.name);
    let issued = match cert.not_before {
        Some(t) => t,
        None => {
            let secret = Named::new(&cert.namespace, &cert.secret_name);
            let (pem, _) = certs::secret_certificate(&secret)?;
            let parsed = x509::parse_pem(&pem).call(|| format!("parse the anchor in {secret}"))?;
            parsed
                .first()
                .ok_or_else(|| RotorError::State(format!("{secret} holds no certificate")))?
                .not_before
        }
    };
    Ok((name, (clock::now() - issued) / DAY))
}

fn run(text: &str) -> Result<Summary, RotorError> {
    let config = SiteConfig::<Fresh>::parse(text)?;
    let in_progress = record::load::<serde_json::Value>()?.is_some();
    if !in_progress {
        let (secret, age) = anchor_age_days(&config.rotation)?;
        let min = i64::from(config.site.min_age_days);
        if age < min {
            let message = format!(
                "trust anchor {secret} is {age} day(s) old, younger than {min}: not rotating"
            );
            rotor_sdk::info(&message, &[]);
            let fact = |k: &str, v: String| KeyValue {
                key: k.into(),
                value: v,
            };
            return Ok(Summary {
                message,
                facts: vec![
                    fact("skipped", "true".into()),
                    fact("anchorAgeDays", age.to_string()),
                ],
            });
        }
    }
    rotation::run_site(config.rotation, &rotation::DefaultSite)
}

struct SkipIfFresh;

impl Policy for SkipIfFresh {
    fn run(config: String) -> Result<Summary, Error> {
        run(&config).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(SkipIfFresh);
