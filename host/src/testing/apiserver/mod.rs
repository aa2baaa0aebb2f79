//! A Kubernetes API server for tests, backed by any [`Cluster`].
//!
//! It speaks the real wire format over HTTP/1.1 on 127.0.0.1 (random port):
//! discovery (`/version`, `/api`, `/apis`), list/get/create/update/
//! merge-patch/delete/watch, the `status` and `eviction` subresources,
//! resourceVersion preconditions with 409s, label and field selectors, and
//! `Status` error bodies with a `reason`. Objects are rebuilt from the
//! backing cluster's records on every request; kinds the trait has no
//! records for (Leases, Bundles, Issuers' full specs) live in a small store
//! of its own, an Issuer's CA Secret, generation and readiness coming from
//! the backing cluster, which takes its `spec.ca.secretName` patch.
//! Argo Rollouts and StrimziPodSets are served per owner the pods name, and
//! their restart patch reaches the backing cluster's `restart_owner`.
//! No OpenAPI document is served (`kubectl create` needs `--validate=false`).
//! A background task advances the backing cluster's clock with wall time
//! (one virtual second per `tick`), so rollouts progress while a client
//! watches.
//!
//! The end-to-end tests (`tests/e2e`) run rotor against a real
//! kube-apiserver, whose authorizer and audit log prove the chart's RBAC
//! there. This server stays for what the real one cannot give a test:
//! the simulator behind the API (modelled proxies, so a test over the wire
//! still sees every broken connection), a clock that runs hours of a
//! rotation in seconds, faults on demand (missing CRDs, short watches), and
//! a run in every plain `cargo test` without the Go-built control plane.

mod discovery;
mod fields;
mod handlers;
pub mod objects;
mod route;
mod status;
mod store;
mod versions;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::cluster::kube::Clock;
use crate::cluster::sim::SimCluster;
use crate::wit::Timestamp;

pub use status::ApiError;

type Body = BoxBody<Bytes, Infallible>;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// rotor's namespace: its `rotor-progress` ConfigMap maps onto the
    /// backing cluster's progress record.
    pub rotor_namespace: String,
    /// Serve the cert-manager.io group (off: behave as if the CRDs were missing).
    pub cert_manager: bool,
    /// Serve Argo Rollouts' `rollouts` and Strimzi's `strimzipodsets`, one
    /// object per owner the backing cluster's pods name (off: behave as if
    /// those CRDs were missing).
    pub custom_owners: bool,
    /// Wall time per virtual second of the backing cluster; `None` leaves
    /// the backing clock alone.
    pub tick: Option<Duration>,
    /// End every watch after this long, whatever the client asked for (a
    /// real server ends them at its request timeout): clients must resume.
    pub watch_limit: Option<Duration>,
    /// Literal environment (name, value) every served pod's and pod
    /// template's containers carry, as real specs do: what a dump of the
    /// cluster must leave behind.
    pub container_env: Vec<(String, String)>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            rotor_namespace: crate::cluster::kube::DEFAULT_NAMESPACE.into(),
            cert_manager: true,
            custom_owners: true,
            tick: Some(Duration::from_millis(10)),
            watch_limit: None,
            container_env: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// The defaults, with the backing clock left alone: a test moves it.
    pub fn clock_untouched() -> Self {
        ServerOptions {
            tick: None,
            ..ServerOptions::default()
        }
    }
}

/// What the server shares between connections.
pub(crate) struct Backend {
    cluster: Arc<dyn Cluster>,
    opts: ServerOptions,
    versions: versions::Versions,
    store: store::Store,
    requests: Mutex<BTreeMap<String, u64>>,
    log: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<Vec<(String, u32, Fault)>>,
}

/// One request as it arrived: what an API server's authorizer sees (see
/// [`crate::testing::rbac::RequestAttributes::from_http`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The `Content-Type` header, if any (a patch's type).
    pub content_type: Option<String>,
    /// The body as sent (lossy UTF-8; empty for reads).
    pub body: String,
}

/// A failure the server answers with instead of serving a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An error `Status` with this HTTP code (and its usual reason).
    Status(u16),
    /// Close the connection without an answer.
    Reset,
    /// Serve the request, then close the connection without the answer (a
    /// write that landed although the client saw it fail).
    ResetAfter,
}

/// A running server; stops when dropped.
pub struct TestApiServer {
    addr: SocketAddr,
    backend: Arc<Backend>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestApiServer {
    pub async fn start(cluster: Arc<dyn Cluster>, opts: ServerOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let tick = opts.tick;
        let backend = Arc::new(Backend {
            cluster: cluster.clone(),
            opts,
            versions: versions::Versions::default(),
            store: store::Store::default(),
            requests: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        let b = backend.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let b = b.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let b = b.clone();
                        async move { b.serve(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }));
        if let Some(tick) = tick {
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(tick).await;
                    if let Err(e) = cluster.wait(1).await {
                        tracing::warn!(error = %e, "test API server: backing clock did not advance");
                    }
                }
            }));
        }
        Ok(TestApiServer {
            addr,
            backend,
            tasks,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server.
    pub fn client(&self) -> Result<kube::Client, kube::Error> {
        let url = self
            .url()
            .parse()
            .map_err(|e| kube::Error::Service(Box::new(e)))?;
        let mut config = kube::Config::new(url);
        // As `KubeCluster::connect` does: rotor's own retry policy applies,
        // and rustls gets its crypto provider named.
        config.default_retry = false;
        crate::cluster::kube::install_crypto_provider();
        kube::Client::try_from(config)
    }

    /// Write a kubeconfig pointing at this server (for kubectl and `rotor`).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, kubeconfig_yaml(&[("rotor-test", self)]))
    }

    /// A clock that reads and waits on the backing cluster's (virtual) time.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(BackingClock {
            cluster: self.backend.cluster.clone(),
            tick: self.backend.opts.tick.unwrap_or(Duration::from_millis(10)),
        })
    }

    /// Requests served so far, by `METHOD resource[/subresource] verb`.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.backend
            .requests
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Total API requests (discovery included).
    pub fn request_total(&self) -> u64 {
        self.requests().values().sum()
    }

    /// Every request served so far, in arrival order (discovery included).
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        self.backend
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    pub fn reset_requests(&self) {
        if let Ok(mut m) = self.backend.requests.lock() {
            m.clear();
        }
        if let Ok(mut l) = self.backend.log.lock() {
            l.clear();
        }
    }

    /// Answer the next `count` requests whose key (as in [`requests`],
    /// e.g. `"list pods"`, `"update certificates/status"`) is `key` with
    /// `fault` instead of serving them.
    ///
    /// [`requests`]: TestApiServer::requests
    pub fn fail_next(&self, key: &str, count: u32, fault: Fault) {
        if let Ok(mut f) = self.backend.faults.lock() {
            f.push((key.to_string(), count, fault));
        }
    }

    /// Serve an object the trait has no record for (a Bundle, an Issuer, a
    /// Lease). `resource` is `group/plural` (`plural` for core).
    pub fn seed(&self, resource: &str, namespace: &str, object: Value) {
        self.backend
            .store
            .put(resource, namespace, object, &self.backend.versions);
    }

    /// rotor's run lock (Lease `rotor` in `namespace`, 60 s) as `holder`
    /// left it: taken at `acquired`, last renewed at `renewed`.
    pub fn seed_run_lock(
        &self,
        namespace: &str,
        holder: &str,
        acquired: jiff::Timestamp,
        renewed: jiff::Timestamp,
    ) {
        self.seed(
            "coordination.k8s.io/leases",
            namespace,
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": crate::lock::LEASE_NAME, "namespace": namespace},
                "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60,
                         "acquireTime": acquired.to_string(), "renewTime": renewed.to_string()},
            }),
        );
    }

    /// Objects the server's own store holds, as clients wrote them (e.g.
    /// `"events.k8s.io/events"`); `None` lists every namespace.
    pub fn stored(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.backend.store.list(resource, namespace)
    }

    /// A server over a simulated cluster, also serving the kinds the
    /// `Cluster` trait has no records for (Bundles, Issuers), seeded from
    /// the simulator's own state: what `rotor plan` reads from a real one.
    pub async fn over_sim(sim: Arc<SimCluster>, opts: ServerOptions) -> std::io::Result<Self> {
        let server = TestApiServer::start(sim.clone(), opts).await?;
        server
            .seed_untracked_kinds(&sim.state_yaml())
            .map_err(std::io::Error::other)?;
        Ok(server)
    }

    /// Seed the kinds the `Cluster` trait has no records for (Bundles,
    /// Issuers, ClusterIssuers) from multi-document YAML such as
    /// `SimCluster::state_yaml()`; other kinds are skipped.
    pub fn seed_untracked_kinds(&self, yaml: &str) -> Result<(), serde_norway::Error> {
        for doc in serde_norway::Deserializer::from_str(yaml) {
            let v = Value::deserialize(doc)?;
            let items = match v["kind"].as_str() {
                Some("List") => v["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![v],
            };
            for o in items {
                let resource = match o["kind"].as_str() {
                    Some("Bundle") => "trust.cert-manager.io/bundles",
                    Some("ClusterBundle") => "trust-manager.io/clusterbundles",
                    Some("Issuer") => "cert-manager.io/issuers",
                    Some("ClusterIssuer") => "cert-manager.io/clusterissuers",
                    _ => continue,
                };
                let ns = o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.seed(resource, &ns, o);
            }
        }
        Ok(())
    }
}

/// A kubeconfig with one context per `(name, server)`, each with a cluster
/// and user of the same name; the first is the current context.
pub fn kubeconfig_yaml(contexts: &[(&str, &TestApiServer)]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut entries = String::new();
    for (name, server) in contexts {
        let url = server.url();
        clusters.push_str(&format!("- name: {name}\n  cluster:\n    server: {url}\n"));
        users.push_str(&format!("- name: {name}\n  user: {{}}\n"));
        entries.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: default\n"
        ));
    }
    let current = contexts.first().map(|(name, _)| *name).unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{entries}current-context: {current}\n"
    )
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct BackingClock {
    cluster: Arc<dyn Cluster>,
    tick: Duration,
}

#[async_trait]
impl Clock for BackingClock {
    async fn now(&self) -> Timestamp {
        self.cluster.now().await
    }

    async fn sleep(&self, seconds: u32) {
        let until = self.cluster.now().await + i64::from(seconds);
        while self.cluster.now().await < until {
            tokio::time::sleep(self.tick).await;
        }
    }
}

/// What a handler answers.
pub(crate) enum Reply {
    Json(u16, Value),
    /// A plain-text body, as the server gives for paths it does not serve.
    Text(u16, String),
    /// Drop the connection.
    Reset,
    /// A watch: newline-delimited JSON events.
    Stream(futures::channel::mpsc::Receiver<Result<hyper::body::Frame<Bytes>, Infallible>>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Json(e.code, e.body())
    }
}

impl Backend {
    async fn serve(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Body>, std::io::Error> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes());
        if let Ok(mut log) = self.log.lock() {
            log.push(RecordedRequest {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body: body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            });
        }
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                return Ok(respond(Reply::from(ApiError::bad_request(format!(
                    "cannot read body: {e}"
                )))));
            }
        };
        let reply = self
            .clone()
            .handle(&parts.method, parts.uri.path(), parts.uri.query(), &body)
            .await;
        match reply {
            Reply::Reset => Err(std::io::Error::other("connection reset (injected fault)")),
            reply => Ok(respond(reply)),
        }
    }

    /// A fault planned for this request, if any (used up as it is taken).
    fn take_fault(&self, key: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().ok()?;
        let i = faults.iter().position(|(k, n, _)| k == key && *n > 0)?;
        faults[i].1 -= 1;
        Some(faults[i].2)
    }

    fn count(&self, key: String) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry(key).or_default() += 1;
        }
    }
}

fn respond(reply: Reply) -> Response<Body> {
    let (code, ctype, body): (u16, &str, Body) = match reply {
        Reply::Json(code, v) => (
            code,
            "application/json",
            Full::new(Bytes::from(v.to_string())).boxed(),
        ),
        Reply::Text(code, t) => (
            code,
            "text/plain; charset=utf-8",
            Full::new(Bytes::from(t)).boxed(),
        ),
        Reply::Stream(rx) => (
            200,
            "application/json",
            http_body_util::StreamBody::new(rx).boxed(),
        ),
        // `serve` drops the connection before it gets here.
        Reply::Reset => (
            500,
            "text/plain; charset=utf-8",
            Full::new(Bytes::from("connection reset\n")).boxed(),
        ),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(ctype) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}
