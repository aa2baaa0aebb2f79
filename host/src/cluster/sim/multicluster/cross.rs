//! Outage across clusters: pairs whose client and server run in different
//! clusters, integrated over the shared virtual time. Each cluster has its
//! own certificate table, so trust is compared by fingerprint.

use std::collections::BTreeSet;

use super::super::outage::OutageWindow;
use super::super::outage_log::{MAX_SAMPLES, OutageLog};
use super::super::world::World;

/// A workload of one cluster: the world it lives in and its outage unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub world: usize,
    pub unit: usize,
}

/// A client calling a workload of another cluster, directly or through
/// that cluster's gateway.
#[derive(Debug, Clone)]
pub struct CrossPair {
    pub client: Endpoint,
    pub server: Endpoint,
    /// The server cluster's gateway, when the call goes through it.
    pub gateway: Option<Endpoint>,
    /// `east:ns/Kind/client -> west:ns/Kind/server`.
    pub name: String,
}

#[derive(Debug, Default)]
pub struct CrossOutage {
    pairs: Vec<CrossPair>,
    /// Each world's class changes when last evaluated.
    seen: Option<Vec<u64>>,
    log: OutageLog,
}

/// A Ready proxy's trust, by fingerprint: roots, the anchor behind its leaf,
/// whether the leaf expired.
struct Trust<'a> {
    roots: Vec<&'a str>,
    anchor: &'a str,
    expired: bool,
}

fn trust_of(world: &World, unit: usize) -> Vec<Trust<'_>> {
    let fp = |id| world.pki.get(id).fingerprint.as_str();
    world
        .outage
        .unit_classes(unit)
        .map(|(roots, anchor, expired)| Trust {
            roots: roots.iter().map(|&r| fp(r)).collect(),
            anchor: fp(anchor),
            expired,
        })
        .collect()
}

/// Why a connection from `client` to `server` fails mTLS, if it does. A
/// side with no Ready meshed pod takes no part, as within a cluster.
fn hop_cause(worlds: &[World], client: Endpoint, server: Endpoint) -> Option<&'static str> {
    let cs = trust_of(&worlds[client.world], client.unit);
    let ss = trust_of(&worlds[server.world], server.unit);
    for c in &cs {
        for s in &ss {
            if c.expired || s.expired {
                return Some("expired leaf certificate");
            }
            let client_trusts = c.roots.contains(&s.anchor);
            let server_trusts = s.roots.contains(&c.anchor);
            match (client_trusts, server_trusts) {
                (true, true) => {}
                (false, false) => return Some("neither side trusts the other's anchor"),
                (false, true) => return Some("client does not trust the server's anchor"),
                (true, false) => return Some("server does not trust the client's anchor"),
            }
        }
    }
    None
}

impl CrossOutage {
    pub fn new(pairs: Vec<CrossPair>) -> CrossOutage {
        CrossOutage {
            pairs,
            ..CrossOutage::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Re-count broken pairs at `now` if any cluster's proxies changed trust.
    pub fn evaluate(&mut self, worlds: &[World], now: i64) {
        let changes: Vec<u64> = worlds.iter().map(|w| w.outage.changes()).collect();
        if self.seen.as_ref() == Some(&changes) {
            return;
        }
        self.seen = Some(changes);
        let mut total = 0;
        let mut samples = Vec::new();
        let mut causes = BTreeSet::new();
        for p in &self.pairs {
            let cause = match p.gateway {
                None => hop_cause(worlds, p.client, p.server).map(str::to_string),
                Some(gw) => hop_cause(worlds, p.client, gw)
                    .map(|c| format!("client to gateway: {c}"))
                    .or_else(|| {
                        hop_cause(worlds, gw, p.server).map(|c| format!("gateway to server: {c}"))
                    }),
            };
            if let Some(cause) = cause {
                total += 1;
                causes.insert(cause);
                if samples.len() < MAX_SAMPLES {
                    samples.push(p.name.clone());
                }
            }
        }
        self.log.record(now, total, samples, causes);
    }

    /// Time passes with the current count of broken pairs.
    pub fn elapse(&mut self, from: i64, to: i64) {
        self.log.elapse(from, to);
    }

    pub fn broken_pair_seconds(&self) -> f64 {
        self.log.broken_pair_seconds()
    }

    /// Closed windows plus the open one (ending now).
    pub fn windows(&self, now: i64) -> Vec<OutageWindow> {
        self.log.windows(now)
    }
}
