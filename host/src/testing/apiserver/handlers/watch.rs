//! Watches: the list re-read on a short poll and sent as ADDED / MODIFIED /
//! DELETED lines, so any backing cluster can be watched without change
//! notifications of its own.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply};
use super::{Query, name_of};

/// How often a watch re-reads the backing cluster.
const WATCH_POLL: Duration = Duration::from_millis(20);

impl Backend {
    /// Re-read the list every [`WATCH_POLL`] and send what changed as
    /// ADDED / MODIFIED / DELETED lines, until `timeoutSeconds` or the
    /// client goes away.
    pub(super) async fn watch(self: Arc<Self>, route: Route, q: Query) -> Result<Reply, ApiError> {
        let route = Route {
            name: None,
            ..route
        };
        // Validate before answering 200.
        let first = self.list(&route, &q).await?;
        let since: Option<u64> = q
            .get("resourceVersion")
            .filter(|v| !v.is_empty() && *v != "0")
            .and_then(|v| v.parse().ok());
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(1800);
        let limit =
            Duration::from_secs(timeout).min(self.opts.watch_limit.unwrap_or(Duration::MAX));
        let (mut tx, rx) = futures::channel::mpsc::channel(64);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + limit;
            let rv = |o: &Value| -> u64 {
                o.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let key = |o: &Value| {
                format!(
                    "{}/{}",
                    o.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    name_of(o)
                )
            };
            let mut known: HashMap<String, (u64, Value)> = HashMap::new();
            let mut items = first;
            let mut initial = true;
            loop {
                let mut lines = Vec::new();
                let mut present = HashSet::new();
                for o in items {
                    let k = key(&o);
                    present.insert(k.clone());
                    let v = rv(&o);
                    let event = match known.get(&k) {
                        None if initial => match since {
                            None => Some("ADDED"),
                            Some(s) if v > s => Some("MODIFIED"),
                            Some(_) => None,
                        },
                        None => Some("ADDED"),
                        Some((old, _)) if *old != v => Some("MODIFIED"),
                        Some(_) => None,
                    };
                    if let Some(t) = event {
                        lines.push(json!({"type": t, "object": o}));
                    }
                    known.insert(k, (v, o));
                }
                let gone: Vec<String> = known
                    .keys()
                    .filter(|k| !present.contains(*k))
                    .cloned()
                    .collect();
                for k in gone {
                    if let Some((_, o)) = known.remove(&k) {
                        lines.push(json!({"type": "DELETED", "object": o}));
                    }
                }
                initial = false;
                for l in lines {
                    let frame = hyper::body::Frame::data(Bytes::from(format!("{l}\n")));
                    if tx.send(Ok(frame)).await.is_err() {
                        return;
                    }
                }
                if tokio::time::Instant::now() >= deadline || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(WATCH_POLL).await;
                items = match self.list(&route, &q).await {
                    Ok(i) => i,
                    Err(e) => {
                        let line = json!({"type": "ERROR", "object": e.body()});
                        let _ = tx
                            .send(Ok(hyper::body::Frame::data(Bytes::from(format!(
                                "{line}\n"
                            )))))
                            .await;
                        return;
                    }
                };
            }
        });
        Ok(Reply::Stream(rx))
    }
}
