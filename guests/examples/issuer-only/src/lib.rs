//! Site policy `issuer-only`: the monthly job. Renews the identity issuer
//! under the anchor every proxy already trusts and waits for identity to
//! reload it; the trust anchor is left to the yearly job. Built as its own
//! component so the monthly CronJob cannot rotate the anchor by a config slip.
//!
//! Configuration: the default policy's, without `mode`.

use rotor_sdk::rotation::{self, Config, Mode};
use rotor_sdk::{Error, Policy, RotorError, Summary};

struct IssuerOnly;

/// The rotation's configuration with the mode fixed to issuer-only; a
/// `mode` key is refused rather than silently overridden.
fn config(text: &str) -> Result<Config, RotorError> {
    let value: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(text).map_err(|e| RotorError::Config(e.to_string()))?
    };
    if value.get("mode").is_some() {
        return Err(RotorError::Config(
            "mode: this policy only rotates the issuer; remove the key".into(),
        ));
    }
    let mut cfg = Config::parse(text).map_err(|e| RotorError::Config(e.to_string()))?;
    cfg.mode = Mode::IssuerOnly;
    Ok(cfg)
}

impl Policy for IssuerOnly {
    fn run(text: String) -> Result<Summary, Error> {
        let cfg = config(&text).map_err(rotation::stopped)?;
        rotation::run_site(cfg, &rotation::DefaultSite).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(IssuerOnly);
