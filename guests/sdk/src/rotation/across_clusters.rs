//! The rotation across the clusters of a multicluster mesh, which share one
//! trust anchor while each keeps its own identity issuer.
//!
//! Every step is done in every cluster before any cluster starts the next:
//! no cluster's issuer signs with the new anchor until every proxy in every
//! cluster trusts it (a proxy checks a peer's leaf, from whichever cluster,
//! against its own roots), and no cluster drops the old anchor until every
//! leaf in every cluster chains to the new one. The home cluster's
//! cert-manager renews the anchor; each member then copies it, certificate
//! and key, since its own CA issuer signs its own issuer with it.
//!
//! Each cluster keeps its own progress record. A run killed anywhere finds
//! the clusters at most one step apart, and runs the clusters behind first.

use super::anchor::{HomeAnchor, anchor_secret};
use super::plan::Step;
use super::preflight::preflight;
use super::run::Run;
use super::{Config, Mode, Site};
use crate::fingerprint::short;
use crate::{CallContext, KeyValue, RotorError, Summary, clusters, context, record, step};

/// One cluster's part of the run.
struct Member<'s> {
    name: String,
    run: Run<'s>,
}

/// Send later calls, and name later steps, after `cluster`.
fn enter(cluster: &str) -> Result<(), RotorError> {
    clusters::select(cluster).call(|| format!("select cluster {cluster}"))?;
    crate::step::scope(Some(cluster));
    Ok(())
}

/// `error`, naming the cluster it happened in.
fn in_cluster(cluster: &str, error: RotorError) -> RotorError {
    match error {
        e @ RotorError::InCluster { .. } => e,
        e => RotorError::InCluster {
            cluster: cluster.to_string(),
            error: Box::new(e),
        },
    }
}

/// Rotate every cluster of the run (home first, as `clusters.list` gives
/// them) in lock-step, with a site's choices. The JSON's `clusters` key
/// holds each cluster's own settings (see [`Config::for_clusters`]).
pub fn run_across(config_text: &str, site: &dyn Site) -> Result<Summary, RotorError> {
    let list = clusters::list();
    let names: Vec<String> = list.iter().map(|c| c.name.clone()).collect();
    if !list.first().is_some_and(|c| c.home) {
        return Err(RotorError::State(
            "the host lists no home cluster first; rotor cannot tell which cluster issues the anchor"
                .into(),
        ));
    }
    let configs =
        Config::for_clusters(config_text, &names).map_err(|e| RotorError::Config(e.to_string()))?;
    let dry_run = context::dry_run();
    let mut members = Vec::with_capacity(names.len());
    for (name, cfg) in names.iter().zip(configs) {
        enter(name)?;
        let run =
            step("preflight", || preflight(cfg, site, dry_run)).map_err(|e| in_cluster(name, e))?;
        members.push(Member {
            name: name.clone(),
            run,
        });
    }
    let result = walk(&mut members, site);
    crate::step::scope(None);
    match result? {
        Some((at, reason)) => pause_all(members, at, reason),
        None => {
            if !dry_run {
                for m in &members {
                    enter(&m.name)?;
                    record::clear().map_err(|e| in_cluster(&m.name, e))?;
                }
                crate::step::scope(None);
            }
            Ok(summary(members))
        }
    }
}

/// Walk the steps: each round runs the earliest step any cluster is at, in
/// every cluster at it. `Some`: the site stopped the run before a step.
fn walk(members: &mut [Member<'_>], site: &dyn Site) -> Result<Option<(Step, String)>, RotorError> {
    agree(members)?;
    let home_cluster = members[0].name.clone();
    enter(&home_cluster)?;
    let home = HomeAnchor {
        cluster: home_cluster.clone(),
        secret: anchor_secret(&members[0].run.cfg).map_err(|e| in_cluster(&home_cluster, e))?,
    };
    loop {
        let Some(at) = members.iter().map(|m| m.run.rec.next).min() else {
            return Ok(None);
        };
        if at == Step::Done {
            return Ok(None);
        }
        if let Some(reason) = site.hold(at.name())? {
            return Ok(Some((at, reason)));
        }
        for i in 0..members.len() {
            if members[i].run.rec.next != at {
                continue;
            }
            if i > 0 && members[i].run.rec.new_anchor.is_none() {
                // The anchor the home renewed, this round or before.
                members[i].run.rec.new_anchor = members[0].run.rec.new_anchor.clone();
            }
            let m = &mut members[i];
            enter(&m.name)?;
            let from = (i > 0).then_some(&home);
            m.run.advance(from).map_err(|e| in_cluster(&m.name, e))?;
        }
    }
}

/// Refuse clusters whose records cannot be walked together: another mode,
/// another anchor to start from or move to, or more than one step apart
/// (a record cleared or written outside rotor).
fn agree(members: &[Member<'_>]) -> Result<(), RotorError> {
    let home = &members[0];
    let earliest = members
        .iter()
        .map(|m| m.run.rec.next)
        .min()
        .unwrap_or(Step::Done);
    let mode = home.run.rec.mode;
    for m in members {
        let rec = &m.run.rec;
        let why = if rec.mode != mode {
            Some(format!(
                "its rotation is in mode {} while the home's is in {}",
                super::plan::mode_name(rec.mode),
                super::plan::mode_name(mode)
            ))
        } else if rec.anchor_before.fingerprint != home.run.rec.anchor_before.fingerprint {
            Some(format!(
                "its rotation started from anchor {} while the home's started from {}",
                short(&rec.anchor_before.fingerprint),
                short(&home.run.rec.anchor_before.fingerprint)
            ))
        } else if let (Some(own), Some(home_new)) = (&rec.new_anchor, &home.run.rec.new_anchor)
            && own != home_new
        {
            Some(format!(
                "it moves to anchor {} while the home moves to {}",
                short(own),
                short(home_new)
            ))
        } else if rec.next != earliest && rec.next != earliest.next(mode) {
            Some(format!(
                "it is at step {} while another cluster is at {}: the clusters' progress records disagree; \
                 compare them (rotor status) before running again",
                rec.next.name(),
                earliest.name()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(in_cluster(&m.name, RotorError::State(why)));
        }
    }
    Ok(())
}

/// Stop every cluster before `at` (each leaves its record, or none when it
/// had not begun).
fn pause_all(members: Vec<Member<'_>>, at: Step, reason: String) -> Result<Summary, RotorError> {
    let mut summaries = Vec::with_capacity(members.len());
    for m in members {
        enter(&m.name)?;
        let paused = m.run.pause(at, reason.clone());
        summaries.push((m.name.clone(), paused.map_err(|e| in_cluster(&m.name, e))?));
    }
    crate::step::scope(None);
    let names = summaries
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!("{} (clusters: {names})", summaries[0].1.message);
    Ok(Summary {
        message,
        facts: merge_facts(summaries),
    })
}

/// The run's summary over every cluster: a finished rotation's message
/// counts the restarts of all of them.
fn summary(members: Vec<Member<'_>>) -> Summary {
    let home = &members[0].run;
    let (mode, dry_run) = (home.rec.mode, home.dry_run);
    let before = short(&home.rec.anchor_before.fingerprint).to_string();
    let after = home
        .rec
        .new_anchor
        .as_deref()
        .map(short)
        .unwrap_or("?")
        .to_string();
    let restarted: u64 = members.iter().map(|m| m.run.restarted).sum();
    let summaries: Vec<(String, Summary)> = members
        .into_iter()
        .map(|m| (m.name, m.run.summary(None)))
        .collect();
    let count = summaries.len();
    let names = summaries
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let message = if !dry_run && mode == Mode::Full {
        format!(
            "rotated trust anchor {before} -> {after} and the identity issuers of {count} clusters \
             ({names}); {restarted} workload restart(s)"
        )
    } else {
        format!("{} (clusters: {names})", summaries[0].1.message)
    };
    Summary {
        message,
        facts: merge_facts(summaries),
    }
}

/// Every cluster's facts under its own name (`restarts@west`), after the
/// list of clusters.
fn merge_facts(summaries: Vec<(String, Summary)>) -> Vec<KeyValue> {
    let names: Vec<&str> = summaries.iter().map(|(n, _)| n.as_str()).collect();
    let mut facts = vec![KeyValue {
        key: "clusters".into(),
        value: names.join(", "),
    }];
    for (name, s) in &summaries {
        facts.extend(s.facts.iter().map(|f| KeyValue {
            key: format!("{}@{name}", f.key),
            value: f.value.clone(),
        }));
    }
    facts
}
