//! A stand-in for Linkerd's identity controller and proxy injector, for the
//! end-to-end tests against a real API server.
//!
//! Linkerd's own controllers and Helm charts come only from the linkerd2
//! Go module, which the module proxy this project builds from refuses at
//! every version, and the proxy cannot run here at all; so these two
//! imitate, against the real API server, the behaviours rotor's gates read
//! (each documented with its source in `docs/trust-model.md`):
//!
//! - **Proxy injector** (a real mutating admission webhook, registered with
//!   `clientConfig.url` on loopback): a pod whose namespace or template says
//!   `linkerd.io/inject: enabled|ingress` (the template's `disabled` wins)
//!   and that has no `linkerd-proxy` container yet gets one, with
//!   `LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS` set to the trust roots *its
//!   mounted copy* of `linkerd-identity-trust-roots` holds (the ConfigMap as
//!   it was `lag` ago), the labels `linkerd.io/control-plane-ns`,
//!   `linkerd.io/workload-ns`, `linkerd.io/proxy-<kind>` and the annotations
//!   `linkerd.io/proxy-version` and `linkerd.io/trust-root-sha256` (SHA-256
//!   of those roots). Linkerd: `pkg/inject/inject.go`,
//!   `controller/proxy-injector/webhook.go`, `pkg/inject/report.go`.
//! - **Identity**: each identity pod loaded the trust roots when it started;
//!   when the issuer Secret changes, each running identity pod, `lag`
//!   later, checks the new issuer against its roots and records its own
//!   Event on `Deployment linkerd/linkerd-identity`: Normal `IssuerUpdated`
//!   "Updated identity issuer", or Warning `IssuerUpdateSkipped`.
//!   Linkerd: `pkg/identity/service.go`, `controller/cmd/identity`.
//!
//! Not imitated: leaf issuance and mTLS (no proxy runs; kwok makes pods
//! Ready), identity's crash loop on a bad issuer at start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, ObjectReference, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const NS: &str = "linkerd";
const TRUST_ROOTS: &str = "linkerd-identity-trust-roots";
const TRUST_ROOTS_KEY: &str = "ca-bundle.crt";
const ISSUER_SECRET: &str = "linkerd-identity-issuer";
const IDENTITY: &str = "linkerd-identity";
const PROXY: &str = "linkerd-proxy";
const PROXY_VERSION: &str = "stand-in";

/// The running stand-ins, on a runtime of their own (a test's blocking
/// calls cannot starve them); dropped, they stop.
pub struct LinkerdStandIn {
    runtime: Option<tokio::runtime::Runtime>,
    history: Arc<Mutex<RootsHistory>>,
    /// Where the injector webhook listens (`https://127.0.0.1:PORT/`).
    pub webhook_url: String,
    /// The CA (PEM) that signed the webhook's serving certificate.
    pub webhook_ca_pem: String,
}

impl Drop for LinkerdStandIn {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The trust-roots ConfigMap's contents as the stand-ins saw them change.
#[derive(Default)]
struct RootsHistory(Vec<(Instant, String)>);

impl RootsHistory {
    /// What a copy that lags by `lag` holds now.
    fn as_of(&self, at: Instant) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .or_else(|| self.0.first())
            .map(|(_, pem)| pem.clone())
    }
}

impl LinkerdStandIn {
    /// Start both against the API server `kubeconfig` names.
    pub fn start(kubeconfig: &Path, lag: Duration) -> LinkerdStandIn {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let history = Arc::new(Mutex::new(RootsHistory::default()));
        let shared = history.clone();
        let (addr, ca_pem) = runtime.block_on(async move {
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
                &Default::default(),
            )
            .await
            .expect("kube config");
            rotor::cluster::kube::install_crypto_provider();
            let client = kube::Client::try_from(config).expect("client");
            let history = shared;
            let started = Instant::now();
            tokio::spawn(watch_roots(client.clone(), history.clone()));
            tokio::spawn(identity(client.clone(), history.clone(), lag, started));
            serve_webhook(client, history, lag).await
        });
        LinkerdStandIn {
            runtime: Some(runtime),
            history,
            webhook_url: format!("https://{addr}/inject"),
            webhook_ca_pem: ca_pem,
        }
    }
}

impl LinkerdStandIn {
    /// Whether the injector's copy of the trust roots holds `pem` (it has
    /// seen the ConfigMap hold it for longer than `lag`).
    pub fn holds(&self, pem: &str, lag: Duration) -> bool {
        let h = self.history.lock().unwrap();
        h.0.last()
            .is_some_and(|(at, last)| last == pem && at.elapsed() > lag)
    }
}

/// Poll the trust-roots ConfigMap (polling survives API server restarts).
async fn watch_roots(client: kube::Client, history: Arc<Mutex<RootsHistory>>) {
    let api: Api<ConfigMap> = Api::namespaced(client, NS);
    loop {
        if let Ok(Some(cm)) = api.get_opt(TRUST_ROOTS).await
            && let Some(pem) = cm.data.and_then(|d| d.get(TRUST_ROOTS_KEY).cloned())
        {
            let mut h = history.lock().unwrap();
            if h.0.last().is_none_or(|(_, last)| *last != pem) {
                h.0.push((Instant::now(), pem));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Identity: report each running replica's reload of a changed issuer.
async fn identity(
    client: kube::Client,
    history: Arc<Mutex<RootsHistory>>,
    lag: Duration,
    started: Instant,
) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), NS);
    let mut seen: Option<String> = None;
    let mut pending: Vec<(Instant, String)> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(Some(s)) = secrets.get_opt(ISSUER_SECRET).await {
            let crt = s
                .data
                .as_ref()
                .and_then(|d| d.get("tls.crt"))
                .map(|b| String::from_utf8_lossy(&b.0).into_owned());
            if let Some(crt) = crt {
                if seen.as_ref().is_some_and(|old| *old != crt) {
                    pending.push((Instant::now() + lag, crt.clone()));
                }
                seen = Some(crt);
            }
        }
        let due: Vec<String> = pending
            .iter()
            .filter(|(at, _)| *at <= Instant::now())
            .map(|(_, c)| c.clone())
            .collect();
        if due.is_empty() {
            continue;
        }
        pending.retain(|(at, _)| *at > Instant::now());
        let Ok(list) = pods
            .list(&ListParams::default().labels("linkerd.io/control-plane-component=identity"))
            .await
        else {
            continue;
        };
        let Ok(deployment) = deployments.get(IDENTITY).await else {
            continue;
        };
        for issuer in due {
            for pod in list.items.iter().filter(|p| running(p)) {
                // The roots this replica read when it started.
                // Started before the stand-in: it read what the stand-in first saw.
                let at = pod_started_at(pod).map_or(started, |t| t.max(started));
                let roots = history.lock().unwrap().as_of(at).unwrap_or_default();
                let ok = signed_by_any(&issuer, &roots);
                let _ = events
                    .create(&PostParams::default(), &reload_event(&deployment, ok))
                    .await;
            }
        }
    }
}

fn running(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// When a pod started, on this process's clock (`None`: unknown, or before
/// the clock can say).
fn pod_started_at(p: &Pod) -> Option<Instant> {
    let t = p.status.as_ref()?.start_time.as_ref()?.0;
    let ago = jiff::Timestamp::now()
        .duration_since(t)
        .as_secs_f64()
        .max(0.0);
    Instant::now().checked_sub(Duration::from_secs_f64(ago))
}

fn signed_by_any(issuer_pem: &str, roots_pem: &str) -> bool {
    roots_pem
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .any(|anchor| rotor::x509::verify_signed_by(issuer_pem, anchor).unwrap_or(false))
}

fn reload_event(deployment: &k8s_openapi::api::apps::v1::Deployment, ok: bool) -> Event {
    let (type_, reason, message) = if ok {
        (
            "Normal",
            "IssuerUpdated",
            "Updated identity issuer".to_string(),
        )
    } else {
        (
            "Warning",
            "IssuerUpdateSkipped",
            "Skipping issuer update as certs could not be read from disk: failed to verify \
             issuer credentials for 'identity.linkerd.cluster.local' with trust anchors: x509: \
             certificate signed by unknown authority"
                .to_string(),
        )
    };
    let now = Time(jiff::Timestamp::now());
    Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{IDENTITY}.")),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("Deployment".into()),
            namespace: Some(NS.into()),
            name: Some(IDENTITY.into()),
            uid: deployment.metadata.uid.clone(),
            ..Default::default()
        },
        type_: Some(type_.into()),
        reason: Some(reason.into()),
        message: Some(message),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        source: Some(k8s_openapi::api::core::v1::EventSource {
            component: Some(IDENTITY.into()),
            host: None,
        }),
        ..Default::default()
    }
}

/// The injector webhook on an HTTPS port of its own, with its own CA.
async fn serve_webhook(
    client: kube::Client,
    history: Arc<Mutex<RootsHistory>>,
    lag: Duration,
) -> (SocketAddr, String) {
    let ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    let mut ca = ca;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "stand-in injector CA");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    leaf.subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let client = client.clone();
            let history = history.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let client = client.clone();
                    let history = history.clone();
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let answer = admit(&client, &history, lag, &review).await;
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(
                            answer.to_string(),
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, ca_cert.pem())
}

fn inject_value(annotations: Option<&Value>) -> Option<String> {
    annotations?
        .get("linkerd.io/inject")?
        .as_str()
        .map(str::to_string)
}

/// Answer one AdmissionReview: allowed, with the injection as a JSON patch.
async fn admit(
    client: &kube::Client,
    history: &Mutex<RootsHistory>,
    lag: Duration,
    review: &Value,
) -> Value {
    let request = &review["request"];
    let uid = request["uid"].clone();
    let pod = &request["object"];
    let namespace = request["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let patch = injection(client, history, lag, &namespace, pod)
        .await
        .map(|ops| base64::engine::general_purpose::STANDARD.encode(ops.to_string()));
    let mut response = json!({"uid": uid, "allowed": true});
    if let Some(p) = patch {
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(p);
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

async fn injection(
    client: &kube::Client,
    history: &Mutex<RootsHistory>,
    lag: Duration,
    namespace: &str,
    pod: &Value,
) -> Option<Value> {
    let has_proxy = ["containers", "initContainers"].iter().any(|k| {
        pod["spec"][k]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["name"] == PROXY))
    });
    if has_proxy {
        return None; // injected ahead of time: left alone (sidecarExists)
    }
    let on = |v: &Option<String>| matches!(v.as_deref(), Some("enabled" | "ingress"));
    let from_pod = inject_value(pod["metadata"].get("annotations"));
    let enabled = match from_pod.as_deref() {
        Some("disabled") => false,
        _ if on(&from_pod) => true,
        _ => {
            let ns: Api<Namespace> = Api::all(client.clone());
            let ns = ns.get(namespace).await.ok()?;
            let v = ns
                .metadata
                .annotations
                .and_then(|a| a.get("linkerd.io/inject").cloned());
            on(&v)
        }
    };
    if !enabled {
        return None;
    }
    let roots = injector_view(client, history, lag).await;
    let mut labels: BTreeMap<String, String> = BTreeMap::from([
        ("linkerd.io/control-plane-ns".into(), NS.into()),
        ("linkerd.io/workload-ns".into(), namespace.into()),
    ]);
    if let Some((kind, name)) = owner_workload(pod) {
        labels.insert(format!("linkerd.io/proxy-{kind}"), name);
    }
    let annotations = BTreeMap::from([
        (
            "linkerd.io/proxy-version".to_string(),
            PROXY_VERSION.to_string(),
        ),
        (
            "linkerd.io/trust-root-sha256".to_string(),
            sha256_hex(&roots),
        ),
    ]);
    let mut ops = Vec::new();
    for (field, map) in [("labels", labels), ("annotations", annotations)] {
        if pod["metadata"].get(field).is_none_or(Value::is_null) {
            ops.push(json!({"op": "add", "path": format!("/metadata/{field}"), "value": {}}));
        }
        for (k, v) in map {
            let key = k.replace('~', "~0").replace('/', "~1");
            ops.push(json!({"op": "add", "path": format!("/metadata/{field}/{key}"), "value": v}));
        }
    }
    ops.push(json!({
        "op": "add",
        "path": "/spec/containers/-",
        "value": {
            "name": PROXY,
            "image": "cr.l5d.io/linkerd/proxy:stand-in",
            "env": [{"name": "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "value": roots}],
        },
    }));
    Some(Value::Array(ops))
}

/// What the injector's mounted copy of the trust roots holds: the ConfigMap
/// as it was `lag` ago, or as it was when the oldest running injector pod
/// started, whichever is newer (a pod mounts the current content at start).
async fn injector_view(
    client: &kube::Client,
    history: &Mutex<RootsHistory>,
    lag: Duration,
) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let started = pods
        .list(&ListParams::default().labels("linkerd.io/control-plane-component=proxy-injector"))
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|p| running(p))
                .filter_map(pod_started_at)
                .min()
        })
        .ok()
        .flatten();
    let lagged = Instant::now() - lag;
    let at = started.map_or(lagged, |s| s.max(lagged));
    history.lock().unwrap().as_of(at).unwrap_or_default()
}

/// `("deployment", name)` and the like, from the pod's controller.
fn owner_workload(pod: &Value) -> Option<(&'static str, String)> {
    let owner = pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)?;
    let name = owner["name"].as_str()?;
    match owner["kind"].as_str()? {
        "ReplicaSet" => {
            let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str()?;
            let deployment = name.strip_suffix(&format!("-{hash}"))?;
            Some(("deployment", deployment.to_string()))
        }
        "StatefulSet" => Some(("statefulset", name.to_string())),
        "DaemonSet" => Some(("daemonset", name.to_string())),
        _ => None,
    }
}
