//! The outage checker: which workload pairs cannot complete mTLS, integrated
//! over virtual time.
//!
//! A Ready proxy falls in a *trust class*: (roots it holds, anchor behind its
//! leaf, leaf expired). c->s works iff A(s) is in R(c), A(c) is in R(s) and
//! neither leaf expired. A workload's *signature* is the set of classes its
//! Ready pods are in; a pair of workloads is broken iff some class of one
//! fails with some class of the other. Workloads are counted per signature,
//! so a re-evaluation costs (signatures x classes)^2, never pods x pods.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::outage_log::{MAX_SAMPLES, OutageLog};
use super::pki::CertId;

pub type RootsId = usize;
pub type ClassId = usize;
pub type UnitId = usize;
type SigId = usize;

/// The signature of a workload with no Ready meshed pod: never part of a pair.
const EMPTY_SIG: SigId = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Class {
    roots: RootsId,
    anchor: CertId,
    expired: bool,
}

#[derive(Debug)]
struct Unit {
    name: String,
    counts: Vec<(ClassId, u32)>,
    sig: SigId,
}

#[derive(Debug)]
struct Sig {
    classes: Vec<ClassId>,
    members: BTreeSet<UnitId>,
}

/// A span of virtual time during which at least one pair was broken.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutageWindow {
    pub start: i64,
    pub end: i64,
    pub broken_pairs_max: u64,
    /// A few broken pairs, `client -> server`.
    pub sample_pairs: Vec<String>,
    pub cause: String,
}

#[derive(Debug)]
pub struct Outage {
    roots_sets: Vec<Vec<CertId>>,
    roots_ids: HashMap<Vec<CertId>, RootsId>,
    classes: Vec<Class>,
    class_ids: HashMap<Class, ClassId>,
    units: Vec<Unit>,
    sigs: Vec<Sig>,
    sig_ids: HashMap<Vec<ClassId>, SigId>,
    active_sigs: BTreeSet<SigId>,
    /// Explicit (client, server) pairs; `None`: every meshed workload with every other.
    traffic: Option<Vec<(UnitId, UnitId)>>,
    /// Identity and destination: every meshed workload talks to them.
    control_plane: Vec<UnitId>,
    dirty: bool,
    /// Counts changes of any workload's set of trust classes.
    changes: u64,
    log: OutageLog,
}

impl Default for Outage {
    fn default() -> Self {
        let mut sig_ids = HashMap::new();
        sig_ids.insert(Vec::new(), EMPTY_SIG);
        Outage {
            roots_sets: Vec::new(),
            roots_ids: HashMap::new(),
            classes: Vec::new(),
            class_ids: HashMap::new(),
            units: Vec::new(),
            sigs: vec![Sig {
                classes: Vec::new(),
                members: BTreeSet::new(),
            }],
            sig_ids,
            active_sigs: BTreeSet::new(),
            traffic: None,
            control_plane: Vec::new(),
            dirty: false,
            changes: 0,
            log: OutageLog::default(),
        }
    }
}

impl Outage {
    /// Intern a sorted set of anchors.
    pub fn intern_roots(&mut self, anchors: Vec<CertId>) -> RootsId {
        if let Some(&id) = self.roots_ids.get(&anchors) {
            return id;
        }
        let id = self.roots_sets.len();
        self.roots_sets.push(anchors.clone());
        self.roots_ids.insert(anchors, id);
        id
    }

    pub fn roots(&self, id: RootsId) -> &[CertId] {
        &self.roots_sets[id]
    }

    pub fn class_id(&mut self, roots: RootsId, anchor: CertId, expired: bool) -> ClassId {
        let c = Class {
            roots,
            anchor,
            expired,
        };
        if let Some(&id) = self.class_ids.get(&c) {
            return id;
        }
        self.classes.push(c);
        self.class_ids.insert(c, self.classes.len() - 1);
        self.classes.len() - 1
    }

    /// A workload (or bare pod) whose pods take part in traffic.
    pub fn add_unit(&mut self, name: String) -> UnitId {
        self.units.push(Unit {
            name,
            counts: Vec::new(),
            sig: EMPTY_SIG,
        });
        self.units.len() - 1
    }

    pub fn set_traffic(
        &mut self,
        pairs: Option<Vec<(UnitId, UnitId)>>,
        control_plane: Vec<UnitId>,
    ) {
        self.traffic = pairs;
        self.control_plane = control_plane;
        self.dirty = true;
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Move one pod of `unit` from class `old` to class `new`.
    pub fn set_pod_class(&mut self, unit: UnitId, old: Option<ClassId>, new: Option<ClassId>) {
        if old == new {
            return;
        }
        let u = &mut self.units[unit];
        let mut set_changed = false;
        if let Some(o) = old
            && let Some(i) = u.counts.iter().position(|(c, _)| *c == o)
        {
            u.counts[i].1 -= 1;
            if u.counts[i].1 == 0 {
                u.counts.swap_remove(i);
                set_changed = true;
            }
        }
        if let Some(n) = new {
            match u.counts.iter_mut().find(|(c, _)| *c == n) {
                Some(entry) => entry.1 += 1,
                None => {
                    u.counts.push((n, 1));
                    set_changed = true;
                }
            }
        }
        if !set_changed {
            return;
        }
        let mut key: Vec<ClassId> = u.counts.iter().map(|(c, _)| *c).collect();
        key.sort_unstable();
        let sig = match self.sig_ids.get(&key) {
            Some(&s) => s,
            None => {
                self.sigs.push(Sig {
                    classes: key.clone(),
                    members: BTreeSet::new(),
                });
                let s = self.sigs.len() - 1;
                self.sig_ids.insert(key, s);
                s
            }
        };
        let old_sig = self.units[unit].sig;
        if old_sig == sig {
            return;
        }
        self.units[unit].sig = sig;
        if old_sig != EMPTY_SIG {
            self.sigs[old_sig].members.remove(&unit);
            if self.sigs[old_sig].members.is_empty() {
                self.active_sigs.remove(&old_sig);
            }
        }
        if sig != EMPTY_SIG {
            self.sigs[sig].members.insert(unit);
            self.active_sigs.insert(sig);
        }
        self.dirty = true;
        self.changes += 1;
    }

    /// How many times a workload's set of trust classes changed: a check
    /// across clusters needs to look again only when it moved.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The trust classes of `unit`'s Ready meshed pods: the roots each
    /// holds, the anchor behind its leaf, whether that leaf expired.
    pub fn unit_classes(&self, unit: UnitId) -> impl Iterator<Item = (&[CertId], CertId, bool)> {
        self.sigs[self.units[unit].sig].classes.iter().map(|&c| {
            let class = self.classes[c];
            (
                self.roots_sets[class.roots].as_slice(),
                class.anchor,
                class.expired,
            )
        })
    }

    pub fn unit_name(&self, unit: UnitId) -> &str {
        &self.units[unit].name
    }

    /// Why class x (client) cannot talk to class y (server), if it cannot.
    fn class_cause(&self, x: ClassId, y: ClassId) -> Option<&'static str> {
        let (cx, cy) = (self.classes[x], self.classes[y]);
        if cx.expired || cy.expired {
            return Some("expired leaf certificate");
        }
        let client_trusts = self.roots_sets[cx.roots].binary_search(&cy.anchor).is_ok();
        let server_trusts = self.roots_sets[cy.roots].binary_search(&cx.anchor).is_ok();
        match (client_trusts, server_trusts) {
            (true, true) => None,
            (false, false) => Some("neither side trusts the other's anchor"),
            (false, true) => Some("client does not trust the server's anchor"),
            (true, false) => Some("server does not trust the client's anchor"),
        }
    }

    fn sig_cause(
        &self,
        a: SigId,
        b: SigId,
        cache: &mut HashMap<(SigId, SigId), Option<&'static str>>,
    ) -> Option<&'static str> {
        if a == EMPTY_SIG || b == EMPTY_SIG {
            return None;
        }
        *cache.entry((a, b)).or_insert_with(|| {
            for &x in &self.sigs[a].classes {
                for &y in &self.sigs[b].classes {
                    if let Some(c) = self.class_cause(x, y) {
                        return Some(c);
                    }
                }
            }
            None
        })
    }

    /// Re-count broken pairs after a state change at `now`.
    pub fn evaluate(&mut self, now: i64) {
        self.dirty = false;
        let mut cache = HashMap::new();
        let mut total: u64 = 0;
        let mut samples: Vec<String> = Vec::new();
        let mut causes: BTreeSet<&'static str> = BTreeSet::new();
        let active: Vec<SigId> = self.active_sigs.iter().copied().collect();
        let sample = |samples: &mut Vec<String>, c: UnitId, s: UnitId, units: &[Unit]| {
            if samples.len() < MAX_SAMPLES {
                samples.push(format!("{} -> {}", units[c].name, units[s].name));
            }
        };
        match &self.traffic {
            None => {
                for &a in &active {
                    for &b in &active {
                        let Some(cause) = self.sig_cause(a, b, &mut cache) else {
                            continue;
                        };
                        let na = self.sigs[a].members.len() as u64;
                        let nb = self.sigs[b].members.len() as u64;
                        let n = if a == b {
                            na * na.saturating_sub(1)
                        } else {
                            na * nb
                        };
                        if n == 0 {
                            continue;
                        }
                        total += n;
                        causes.insert(cause);
                        let mut ms = self.sigs[a].members.iter();
                        if let Some(&c) = ms.next() {
                            let s = self.sigs[b].members.iter().copied().find(|&s| s != c);
                            if let Some(s) = s {
                                sample(&mut samples, c, s, &self.units);
                            }
                        }
                    }
                }
            }
            Some(pairs) => {
                for &(c, s) in pairs {
                    let (sc, ss) = (self.units[c].sig, self.units[s].sig);
                    if let Some(cause) = self.sig_cause(sc, ss, &mut cache) {
                        total += 1;
                        causes.insert(cause);
                        sample(&mut samples, c, s, &self.units);
                    }
                }
                for &cp in &self.control_plane {
                    let scp = self.units[cp].sig;
                    for &a in &active {
                        let Some(cause) = self.sig_cause(a, scp, &mut cache) else {
                            continue;
                        };
                        let members = &self.sigs[a].members;
                        let n = members.len() as u64 - u64::from(members.contains(&cp));
                        if n == 0 {
                            continue;
                        }
                        total += n;
                        causes.insert(cause);
                        if let Some(&c) = members.iter().find(|&&c| c != cp) {
                            sample(&mut samples, c, cp, &self.units);
                        }
                    }
                }
            }
        }
        self.log
            .record(now, total, samples, causes.iter().map(|c| c.to_string()));
    }

    /// Time passes with the current count of broken pairs.
    pub fn elapse(&mut self, from: i64, to: i64) {
        self.log.elapse(from, to);
    }

    pub fn broken_pair_seconds(&self) -> f64 {
        self.log.broken_pair_seconds()
    }

    #[cfg(test)]
    pub fn broken_now(&self) -> u64 {
        self.log.current()
    }

    /// Closed windows plus the open one (ending now).
    pub fn windows(&self, now: i64) -> Vec<OutageWindow> {
        self.log.windows(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two anchors A=0, B=1; roots {A}, {A,B}, {B}.
    fn setup(units: usize) -> (Outage, [RootsId; 3]) {
        let mut o = Outage::default();
        let ra = o.intern_roots(vec![0]);
        let rab = o.intern_roots(vec![0, 1]);
        let rb = o.intern_roots(vec![1]);
        for i in 0..units {
            o.add_unit(format!("ns/Deployment/w{i}"));
        }
        (o, [ra, rab, rb])
    }

    #[test]
    fn mixed_trust_breaks_both_directions_and_integrates() {
        let (mut o, [ra, rab, rb]) = setup(3);
        let old = o.class_id(ra, 0, false);
        let both = o.class_id(rab, 0, false);
        for u in 0..3 {
            o.set_pod_class(u, None, Some(old));
        }
        o.evaluate(0);
        assert_eq!(o.broken_now(), 0);
        // Unit 2 moves to a B-only proxy: it and the two A-only units break both ways.
        let new = o.class_id(rb, 1, false);
        o.set_pod_class(2, Some(old), Some(new));
        o.evaluate(10);
        assert_eq!(o.broken_now(), 4);
        o.elapse(10, 40);
        assert_eq!(o.broken_pair_seconds(), 120.0);
        // Everyone trusting {A,B} with A leaves heals it.
        o.set_pod_class(0, Some(old), Some(both));
        o.set_pod_class(1, Some(old), Some(both));
        let new_both = o.class_id(rab, 1, false);
        o.set_pod_class(2, Some(new), Some(new_both));
        o.evaluate(40);
        assert_eq!(o.broken_now(), 0);
        let w = o.windows(100);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].start, w[0].end, w[0].broken_pairs_max), (10, 40, 4));
        assert!(w[0].cause.contains("neither side trusts"), "{}", w[0].cause);
        assert!(!w[0].sample_pairs.is_empty());
    }

    #[test]
    fn a_workload_with_mixed_pods_breaks_with_peers() {
        let (mut o, [ra, _rab, rb]) = setup(2);
        let a = o.class_id(ra, 0, false);
        let b = o.class_id(rb, 1, false);
        o.set_pod_class(0, None, Some(a));
        o.set_pod_class(0, None, Some(b));
        o.set_pod_class(1, None, Some(a));
        o.evaluate(0);
        assert_eq!(o.broken_now(), 2);
        // The B pod goes away: the pair heals.
        o.set_pod_class(0, Some(b), None);
        o.evaluate(1);
        assert_eq!(o.broken_now(), 0);
    }

    #[test]
    fn expired_leaf_breaks_and_explicit_traffic_narrows() {
        let (mut o, [ra, ..]) = setup(4);
        let ok = o.class_id(ra, 0, false);
        let expired = o.class_id(ra, 0, true);
        for u in 0..4 {
            o.set_pod_class(u, None, Some(ok));
        }
        o.set_pod_class(3, Some(ok), Some(expired));
        o.evaluate(0);
        // Default: unit 3 with each of three others, both directions.
        assert_eq!(o.broken_now(), 6);
        // Only 0->1 listed, control plane is unit 2: 3 -> 2 breaks.
        o.set_traffic(Some(vec![(0, 1)]), vec![2]);
        o.evaluate(0);
        assert_eq!(o.broken_now(), 1);
        let w = o.windows(0);
        assert!(w[0].cause.contains("expired"), "{}", w[0].cause);
    }
}
