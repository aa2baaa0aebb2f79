//! A fixture, not a policy to use: the default rotation, except that it
//! takes identity's *first* `IssuerUpdated` as proof that identity serves
//! the new issuer. With several identity replicas, each reloads at its own
//! kubelet sync, so a lagging replica hands old-issuer leaves to pods
//! started after the first report; once the old anchor is dropped, pods
//! that trust only the new one reject them. The simulator must show that
//! outage (`tests/simulation/rotation_matrix.rs`).

use rotor_sdk::rotation::{self, Config, Site};
use rotor_sdk::{Error, ObjectRef, Policy, RotorError, Summary, identity};

struct FirstReload;

impl Site for FirstReload {
    fn issuer_reloaded(
        &self,
        identity: &ObjectRef,
        since: i64,
        _renewed_at: i64,
        _expiry: Option<rotor_sdk::identity_metrics::IssuerExpiry>,
        timeout: u32,
    ) -> Result<i64, RotorError> {
        identity::wait_issuer_reload(identity, since, "issuer-reloaded", timeout)
    }
}

impl Policy for FirstReload {
    fn run(config: String) -> Result<Summary, Error> {
        let cfg = Config::parse(&config).map_err(|e| RotorError::Config(e.to_string()))?;
        rotation::run_site(cfg, &FirstReload).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(FirstReload);
