//! Building a kube `Client` from `--kubeconfig` / `--context`, else the
//! default chain (kubeconfig, then in-cluster), or from a kubeconfig's text
//! (a member cluster's, kept in a Secret), and finding rotor's own
//! namespace.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Where rotor's service account namespace is mounted inside a pod.
const IN_CLUSTER_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// rotor's namespace when neither `--namespace` nor the in-cluster file says.
pub const DEFAULT_NAMESPACE: &str = "rotor-system";

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot use context {context:?} from the kubeconfig: {source}")]
    Context {
        context: String,
        source: kube::config::KubeconfigError,
    },
    #[error(
        "no Kubernetes configuration found (no kubeconfig and not running in a pod): {0}; pass --kubeconfig"
    )]
    Infer(#[from] kube::config::InferConfigError),
    #[error("kubeconfig in {from}: {source}")]
    KubeconfigText {
        from: String,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The API server did not answer (after the transient retries).
    #[error("cannot reach the Kubernetes API at {url}: {cause}")]
    Unreachable { url: String, cause: String },
}

/// How to reach the API server.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

pub async fn client(opts: &ConnectOptions) -> Result<Client, ConnectError> {
    let kc_opts = KubeConfigOptions {
        context: opts.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&opts.kubeconfig, &opts.context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ConnectError::Kubeconfig {
                path: path.clone(),
                source,
            })?;
            Config::from_custom_kubeconfig(kc, &kc_opts)
                .await
                .map_err(|source| ConnectError::Context {
                    context: opts.context.clone().unwrap_or_else(|| "(current)".into()),
                    source,
                })?
        }
        (None, Some(context)) => {
            Config::from_kubeconfig(&kc_opts)
                .await
                .map_err(|source| ConnectError::Context {
                    context: context.clone(),
                    source,
                })?
        }
        (None, None) => Config::infer().await?,
    };
    finish(config).await
}

/// A client for the current context of the kubeconfig `yaml`, read from
/// `from` (named in errors). Files the kubeconfig names are read as kube
/// reads them; inline data needs nothing else.
pub async fn client_from_kubeconfig_yaml(yaml: &str, from: &str) -> Result<Client, ConnectError> {
    let text_error = |source| ConnectError::KubeconfigText {
        from: from.to_string(),
        source,
    };
    let kc = Kubeconfig::from_yaml(yaml).map_err(text_error)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(text_error)?;
    finish(config).await
}

/// The client for `config`, once the API server has answered.
async fn finish(mut config: Config) -> Result<Client, ConnectError> {
    // kube's retry layer would retry 429 up to 15 times with delays of up
    // to 1000 s, which turns a PodDisruptionBudget's refusal of an eviction
    // into a hang; `RetryPolicy` retries transient errors within bounds.
    config.default_retry = false;
    let url = config.cluster_url.to_string();
    install_crypto_provider();
    let client = Client::try_from(config)?;
    reachable(&client, url.trim_end_matches('/')).await?;
    Ok(client)
}

/// Two rustls crypto providers are linked into rotor (kube's ring, the
/// registry client's aws-lc-rs), so rustls cannot pick one by itself and
/// panics at the first TLS connection of a client that relies on the
/// process default, as kube's does. Anything that builds a kube `Client`
/// calls this first; installing twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Ask the API server its version, so an unreachable one is one line that
/// names the address and the cause before any command starts its work.
async fn reachable(client: &Client, url: &str) -> Result<(), ConnectError> {
    const WHAT: &str = "reach the API server";
    let probe = super::RetryPolicy::default()
        .run(WHAT, || client.apiserver_version())
        .await;
    match probe {
        Ok(_) => Ok(()),
        // The server answered, if only with a refusal: it is reachable, and
        // the command's own requests will say what is wrong.
        Err(
            crate::cluster::ClusterError::Denied(_) | crate::cluster::ClusterError::NotFound(_),
        ) => Ok(()),
        Err(e) => {
            let detail = e.detail();
            let detail = detail.strip_prefix(WHAT).unwrap_or(detail);
            let cause = [
                ": connection to the API server failed: ",
                ": request to the API server failed: ",
                ": ",
            ]
            .iter()
            .find_map(|p| detail.strip_prefix(p))
            .unwrap_or(detail);
            Err(ConnectError::Unreachable {
                url: url.to_string(),
                cause: cause.to_string(),
            })
        }
    }
}

/// `--namespace`, else the in-cluster service account's namespace, else
/// [`DEFAULT_NAMESPACE`].
pub fn rotor_namespace(flag: Option<&str>) -> String {
    if let Some(ns) = flag.filter(|ns| !ns.is_empty()) {
        return ns.to_string();
    }
    namespace_from_file(Path::new(IN_CLUSTER_NAMESPACE_FILE))
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

fn namespace_from_file(path: &Path) -> Option<String> {
    let ns = std::fs::read_to_string(path).ok()?;
    let ns = ns.trim();
    (!ns.is_empty()).then(|| ns.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kubeconfig_errors_name_the_file_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = client(&ConnectOptions {
            kubeconfig: Some(missing.clone()),
            context: None,
        })
        .await
        .err()
        .expect("a missing kubeconfig is an error");
        assert!(
            e.to_string().contains(&missing.display().to_string()),
            "{e}"
        );

        let kc = dir.path().join("config");
        std::fs::write(
            &kc,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: here\n  context:\n    cluster: c\n    user: u\ncurrent-context: here\n",
        )
        .unwrap();
        let e = client(&ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: Some("elsewhere".into()),
        })
        .await
        .err()
        .expect("an unknown context is an error");
        assert!(e.to_string().contains("\"elsewhere\""), "{e}");
        // The context resolves; nothing listens on port 1.
        let e = client(&ConnectOptions {
            kubeconfig: Some(kc),
            context: Some("here".into()),
        })
        .await
        .err()
        .expect("an unreachable API server is an error");
        let text = e.to_string();
        assert!(
            text.starts_with("cannot reach the Kubernetes API at http://127.0.0.1:1: "),
            "{text}"
        );
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
    }

    #[test]
    fn namespace_flag_wins_then_file_then_default() {
        assert_eq!(rotor_namespace(Some("ops")), "ops");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("namespace");
        std::fs::write(&f, "rotor-prod\n").unwrap();
        assert_eq!(namespace_from_file(&f).as_deref(), Some("rotor-prod"));
        assert_eq!(namespace_from_file(&dir.path().join("missing")), None);
    }
}
