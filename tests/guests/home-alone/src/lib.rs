//! A fixture, not a policy to use: the mistake the rotation across
//! clusters exists to prevent. It selects the home cluster of a
//! multicluster mesh and runs the single-cluster rotation there alone, as
//! a script rotating one cluster at a time would: the home's issuer is
//! renewed under the new anchor while the other clusters' proxies trust
//! only the old one, so every call between them fails.

use rotor_sdk::rotation::{self, Config, DefaultSite};
use rotor_sdk::{Error, Policy, Summary, clusters};

struct HomeAlone;

impl Policy for HomeAlone {
    fn run(_config: String) -> Result<Summary, Error> {
        let home = clusters::list()
            .into_iter()
            .find(|c| c.home)
            .ok_or_else(|| Error::Invalid("no home cluster".into()))?;
        clusters::select(&home.name)?;
        rotation::run_site(Config::default(), &DefaultSite).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(HomeAlone);
