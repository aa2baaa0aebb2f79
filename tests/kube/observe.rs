//! What `rotor run` tells besides its report, through the test API server:
//! Kubernetes Events on the anchor Certificate and the restarted workloads,
//! metrics pushed to a Pushgateway, and webhook notifications; and that a
//! Pushgateway or webhook that fails does not fail the rotation.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::commands::run::{ObserveArgs, RunArgs, run_against};
use rotor::commands::{ClusterArgs, GuestSource, OutputFormat, PolicyArgs, read_guest};
use rotor::config::RunConfig;
use rotor::lock::LockTiming;
use rotor::observe::WebhookFormat;
use rotor::oci::RegistryOptions;
use rotor::report::RunReport;
use rotor::runtime::RuntimeOptions;
use rotor::testing::apiserver::{Fault, ServerOptions, TestApiServer};
use serde_json::Value;

#[path = "../support/rotation_events.rs"]
mod rotation_events;

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: String,
}

/// A tiny HTTP server standing in for the Pushgateway and the webhook: it
/// keeps every request and answers each with `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(status: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_string();
                            let content_type = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            sink.lock().unwrap().push(Received {
                                method,
                                path,
                                content_type,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            });
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { url, got, task }
    }

    fn got(&self, path_prefix: &str) -> Vec<Received> {
        let all = self.got.lock().unwrap();
        all.iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Observed {
    report: RunReport,
    server: TestApiServer,
}

/// `rotor run` of `guest` (default policy when `None`) over the demo
/// simulation, pushing to and notifying `receiver`.
async fn run(
    receiver: &Receiver,
    guest: Option<PathBuf>,
    fault: Option<(&str, Fault)>,
) -> Observed {
    let sim = Arc::new(SimCluster::demo());
    let server = TestApiServer::over_sim(sim, ServerOptions::default())
        .await
        .unwrap();
    if let Some((key, fault)) = fault {
        server.fail_next(key, 1_000, fault);
    }
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("webhook-url");
    std::fs::write(&url_file, format!("{}/hooks/rotor\n", receiver.url)).unwrap();
    let args = RunArgs {
        cluster: ClusterArgs::default(),
        policy: PolicyArgs {
            guest: guest.map(GuestSource::File),
            ..PolicyArgs::default()
        },
        dry_run: false,
        resume_only: false,
        output: OutputFormat::Json,
        observe: ObserveArgs {
            pushgateway: Some(format!("{}/gateway", receiver.url)),
            webhook_url_file: Some(url_file),
            webhook_format: WebhookFormat::Generic,
        },
    };
    let kube =
        KubeCluster::new(server.client().unwrap(), "rotor-system").with_clock(server.clock());
    let policy = read_guest(
        args.policy.guest.as_ref(),
        &RegistryOptions::default(),
        None,
    )
    .await
    .unwrap();
    let report = run_against(
        kube,
        &args,
        &policy,
        &RunConfig::default(),
        RuntimeOptions { cache_dir: None },
        LockTiming::default(),
    )
    .await
    .unwrap();
    Observed { report, server }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Events about the anchor Certificate, oldest first: (reason, type).
fn anchor_events(server: &TestApiServer) -> Vec<(String, String, String)> {
    let mut events: Vec<Value> = server
        .stored("events.k8s.io/events", Some("cert-manager"))
        .into_iter()
        .filter(|e| {
            s(e, "/regarding/kind") == "Certificate"
                && s(e, "/regarding/name") == "linkerd-trust-anchor"
                && s(e, "/regarding/namespace") == "cert-manager"
        })
        .collect();
    events.sort_by(|a, b| s(a, "/eventTime").cmp(s(b, "/eventTime")));
    events
        .iter()
        .map(|e| {
            (
                s(e, "/reason").to_string(),
                s(e, "/type").to_string(),
                s(e, "/note").to_string(),
            )
        })
        .collect()
}

fn restarts(report: &RunReport) -> usize {
    report
        .audit
        .iter()
        .filter(|a| a.primitive.is_restart())
        .count()
}

/// The pushed samples by metric name and labels.
fn samples(push: &Received) -> BTreeMap<String, f64> {
    let lines = push.body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("exposition format");
    scrape
        .samples
        .iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{}: not a gauge: {other:?}", s.metric),
            };
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let key = if labels.is_empty() {
                s.metric.clone()
            } else {
                format!("{}{{{}}}", s.metric, labels.join(","))
            };
            (key, value)
        })
        .collect()
}

fn the_push(receiver: &Receiver) -> Received {
    let pushes = receiver.got("/gateway");
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    let push = pushes[0].clone();
    assert_eq!(push.method, "POST", "push-add is a POST");
    assert_eq!(
        push.path,
        "/gateway/metrics/job/rotor/instance/rotor-system"
    );
    assert!(
        push.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        push.content_type
    );
    push
}

fn notifications(receiver: &Receiver) -> Vec<Value> {
    receiver
        .got("/hooks/rotor")
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.content_type, "application/json");
            serde_json::from_str(&r.body).expect("JSON")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_leaves_events_pushes_metrics_and_notifies() {
    let receiver = Receiver::start(200).await;
    let Observed { report, server } = run(&receiver, None, None).await;
    assert!(report.succeeded(), "{}", report.render_text());

    let events = anchor_events(&server);
    let reasons: Vec<&str> = events.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(reasons.first(), Some(&"RotationStarted"), "{reasons:?}");
    assert_eq!(reasons.last(), Some(&"RotationSucceeded"), "{reasons:?}");
    for phase in rotation_events::DEFAULT_PHASES {
        assert!(reasons.contains(phase), "no {phase} in {reasons:?}");
    }
    let position = |r: &str| reasons.iter().position(|x| *x == r).unwrap();
    assert!(position("AnchorRenewed") < position("IssuerRenewed"));
    assert!(position("IssuerRenewed") < position("PreviousAnchorRetired"));
    assert!(
        events.iter().all(|(_, t, _)| t == "Normal"),
        "a good run has no warnings: {events:?}"
    );
    let (_, _, note) = events.last().unwrap();
    assert!(note.contains("workloads restarted"), "{note}");

    // A WorkloadRestarted on each restarted workload, in its namespace;
    // repeats (one per restart round) fold into the event's series.
    let restarted: Vec<Value> = server
        .stored("events.k8s.io/events", None)
        .into_iter()
        .filter(|e| s(e, "/reason") == "WorkloadRestarted")
        .collect();
    assert!(restarts(&report) > 0);
    let occurrences: u64 = restarted
        .iter()
        .map(|e| {
            e.pointer("/series/count")
                .and_then(Value::as_u64)
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(occurrences, restarts(&report) as u64, "{restarted:?}");
    for e in &restarted {
        assert!(
            ["Deployment", "StatefulSet", "DaemonSet"].contains(&s(e, "/regarding/kind")),
            "{e}"
        );
        assert_eq!(s(e, "/type"), "Normal");
        assert_eq!(s(e, "/metadata/namespace"), s(e, "/regarding/namespace"));
    }
    assert!(
        restarted
            .iter()
            .any(|e| s(e, "/regarding/namespace") == "linkerd"
                && s(e, "/regarding/name") == "linkerd-identity"),
        "the identity controller's restart has its event"
    );

    let metrics = samples(&the_push(&receiver));
    assert_eq!(
        metrics.get("rotor_last_run_success"),
        Some(&1.0),
        "{metrics:?}"
    );
    assert_eq!(
        metrics.get("rotor_last_success_timestamp_seconds"),
        Some(&(report.finished_at as f64))
    );
    assert_eq!(
        metrics.get("rotor_run_workload_restarts"),
        Some(&(restarts(&report) as f64))
    );
    assert!(metrics["rotor_phase_reached"] >= 8.0, "{metrics:?}");
    assert!(
        !metrics.keys().any(|k| k.starts_with("rotor_gate_failures")),
        "{metrics:?}"
    );

    let messages = notifications(&receiver);
    let kinds: Vec<&str> = messages.iter().map(|m| s(m, "/event")).collect();
    assert_eq!(kinds, ["started", "succeeded"]);
    assert_eq!(
        messages[1]["workloadRestarts"].as_u64(),
        Some(restarts(&report) as u64)
    );
    assert_eq!(s(&messages[1], "/namespace"), "rotor-system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rotation_warns_pushes_the_failed_gate_and_notifies() {
    let receiver = Receiver::start(200).await;
    // Every workload restart is forbidden: the rotation stops at its first
    // restart round, after the anchor renewal.
    let Observed { report, server } = run(
        &receiver,
        None,
        Some(("patch deployments", Fault::Status(403))),
    )
    .await;
    assert!(!report.succeeded(), "{}", report.render_text());

    let events = anchor_events(&server);
    let reasons: Vec<&str> = events.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(reasons.first(), Some(&"RotationStarted"), "{reasons:?}");
    assert!(reasons.contains(&"AnchorRenewed"), "{reasons:?}");
    assert!(!reasons.contains(&"RotationSucceeded"), "{reasons:?}");
    let (reason, type_, note) = events.last().unwrap();
    assert_eq!(
        (reason.as_str(), type_.as_str()),
        ("RotationFailed", "Warning")
    );
    assert!(note.contains("trust-new-anchor"), "{note}");
    assert!(
        server
            .stored("events.k8s.io/events", None)
            .iter()
            .all(|e| s(e, "/reason") != "WorkloadRestarted"),
        "no restart happened, so none is reported"
    );

    let metrics = samples(&the_push(&receiver));
    assert_eq!(
        metrics.get("rotor_last_run_success"),
        Some(&0.0),
        "{metrics:?}"
    );
    assert!(
        !metrics.contains_key("rotor_last_success_timestamp_seconds"),
        "a failed run leaves the last success as it was: {metrics:?}"
    );
    assert_eq!(
        metrics.get("rotor_gate_failures{gate=trust-new-anchor/control-plane}"),
        Some(&1.0),
        "{metrics:?}"
    );

    let messages = notifications(&receiver);
    let kinds: Vec<&str> = messages.iter().map(|m| s(m, "/event")).collect();
    assert_eq!(kinds, ["started", "failed"]);
    assert_eq!(
        s(&messages[1], "/failedStep"),
        "trust-new-anchor/control-plane"
    );
    assert!(!s(&messages[1], "/error").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pushgateway_and_webhook_do_not_fail_the_run() {
    let receiver = Receiver::start(500).await;
    let hello = PathBuf::from(rotor::runtime::GUESTS_DIR).join("hello.wasm");
    let Observed { report, .. } = run(&receiver, Some(hello), None).await;
    assert!(report.succeeded(), "{}", report.render_text());
    the_push(&receiver);
    assert_eq!(notifications(&receiver).len(), 2, "both were attempted");
}
