//! Visits every cluster of the run in turn: selects it, reads its
//! trust-roots ConfigMap, records an Event on it and logs a line, and
//! returns one fact per cluster, so tests can see each call reached the
//! cluster it named and was judged by that cluster's grants.

use rotor_sdk::events::EventType;
use rotor_sdk::{Error, KeyValue, ObjectRef, Policy, Summary, clusters, config_maps, events, x509};

const NAMESPACE: &str = "linkerd";
const TRUST_ROOTS: &str = "linkerd-identity-trust-roots";

struct ClusterTour;

impl Policy for ClusterTour {
    fn run(_config: String) -> Result<Summary, Error> {
        let all = clusters::list();
        let mut facts = vec![KeyValue {
            key: "clusters".into(),
            value: all
                .iter()
                .map(|c| format!("{}{}", c.name, if c.home { " (home)" } else { "" }))
                .collect::<Vec<_>>()
                .join(", "),
        }];
        facts.push(KeyValue {
            key: "first".into(),
            value: clusters::current(),
        });
        facts.push(KeyValue {
            key: "unknown".into(),
            value: match clusters::select("no-such-cluster") {
                Err(Error::NotFound(_)) => format!("not-found, still {}", clusters::current()),
                other => format!("{other:?}"),
            },
        });
        for cluster in &all {
            clusters::select(&cluster.name)?;
            facts.push(KeyValue {
                key: cluster.name.clone(),
                value: visit(&cluster.name)?,
            });
        }
        Ok(Summary {
            message: format!("visited {} cluster(s)", all.len()),
            facts,
        })
    }
}

/// What the selected cluster answered: its anchors and whether the Event
/// was recorded or refused.
fn visit(name: &str) -> Result<String, Error> {
    let roots = config_maps::read_config_map(NAMESPACE, TRUST_ROOTS)?;
    let mut anchors = 0;
    for kv in &roots.data {
        anchors += x509::parse_pem(&kv.value).map_or(0, |certs| certs.len());
    }
    let involved = ObjectRef {
        kind: "ConfigMap".into(),
        namespace: NAMESPACE.into(),
        name: TRUST_ROOTS.into(),
    };
    let event = match events::record_event(
        &involved,
        EventType::Normal,
        "ClusterVisited",
        &format!("cluster-tour read the trust roots of {name}"),
    ) {
        Ok(()) => "recorded".to_string(),
        Err(Error::Denied(_)) => "denied".to_string(),
        Err(e) => return Err(e),
    };
    let anchors = anchors.to_string();
    rotor_sdk::info(
        "visited",
        &[("cluster", name), ("anchors", &anchors), ("event", &event)],
    );
    Ok(format!("anchors={anchors} event={event}"))
}

rotor_sdk::export_policy!(ClusterTour);
