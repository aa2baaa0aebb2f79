//! How rotor talks to registries: credentials from a Docker config JSON (the
//! format of `docker login` and of Kubernetes' `kubernetes.io/dockerconfigjson`
//! pull Secrets), extra trusted roots, and the plain-HTTP rule: loopback
//! registries speak plain HTTP (as Docker and containerd treat `localhost`)
//! unless a CA is given; any other registry only when named explicitly.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::{OciError, PolicyRef};

/// Registry flags, shared by every command that fetches or sends a policy.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegistryOptions {
    /// Registry credentials: a Docker config JSON (`auths`); anonymous without it.
    #[arg(long, value_name = "FILE")]
    pub registry_auth: Option<PathBuf>,

    /// PEM root certificate(s) trusted for registries besides the system's.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,

    /// Speak plain HTTP to this registry (HOST[:PORT]; repeatable). Loopback
    /// registries use plain HTTP unless --registry-ca is given.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub plain_http_registry: Vec<String>,

    /// Where pulled policies are kept by digest [default: the cache dir's `oci/`].
    #[arg(long, value_name = "DIR")]
    pub policy_cache: Option<PathBuf>,
}

/// How to reach one registry: which hosts get plain HTTP, which extra roots
/// HTTPS trusts. Both the registry client and the signature client take it.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    pub plain_http: Vec<String>,
    pub ca_pem: Option<Vec<u8>>,
}

impl Transport {
    /// For `oci-client` (pulls, pushes, archives).
    pub fn oci_config(&self) -> ClientConfig {
        let mut config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(self.plain_http.clone()),
            ..ClientConfig::default()
        };
        if let Some(pem) = &self.ca_pem {
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem.clone(),
            });
        }
        config
    }

    /// For `sigstore`'s cosign client (signature lookups).
    pub fn sigstore_config(&self) -> sigstore::registry::ClientConfig {
        use sigstore::registry as sig;
        sig::ClientConfig {
            protocol: sig::ClientProtocol::HttpsExcept(self.plain_http.clone()),
            extra_root_certificates: self
                .ca_pem
                .iter()
                .map(|pem| sig::Certificate {
                    encoding: sig::CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            ..sig::ClientConfig::default()
        }
    }
}

impl RegistryOptions {
    /// How to reach the registry at `host`.
    pub fn transport(&self, host: &str) -> Result<Transport, OciError> {
        let mut transport = Transport {
            plain_http: self.plain_http_registry.clone(),
            ca_pem: None,
        };
        if let Some(path) = &self.registry_ca {
            let pem = read(path, "registry CA")?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(file_error(path, "registry CA", "no PEM certificate in it"));
            }
            transport.ca_pem = Some(pem);
        } else if is_loopback(host) {
            transport.plain_http.push(host.to_string());
        }
        Ok(transport)
    }

    /// A registry client for `reference`, with its credentials.
    pub fn client(
        &self,
        reference: &PolicyRef,
    ) -> Result<(oci_client::Client, RegistryAuth), OciError> {
        let transport = self.transport(reference.registry())?;
        let client = oci_client::Client::new(transport.oci_config());
        Ok((client, self.auth_for(reference)?))
    }

    /// Where pulled policies are cached, if anywhere.
    pub fn cache(&self, cache_dir: Option<&Path>) -> Option<super::cache::PolicyCache> {
        self.policy_cache
            .clone()
            .or_else(|| cache_dir.map(|dir| dir.join("oci")))
            .map(super::cache::PolicyCache::new)
    }

    /// The credentials for `reference`'s registry; anonymous when none.
    pub fn auth_for(&self, reference: &PolicyRef) -> Result<RegistryAuth, OciError> {
        let Some(path) = &self.registry_auth else {
            return Ok(RegistryAuth::Anonymous);
        };
        let text = read(path, "registry auth")?;
        let config: DockerConfig = serde_json::from_slice(&text).map_err(|e| {
            file_error(
                path,
                "registry auth",
                &format!("not a Docker config JSON: {e}"),
            )
        })?;
        let host = reference.registry();
        let Some(entry) = config
            .auths
            .iter()
            .find(|(key, _)| server_host(key) == host)
        else {
            return Ok(RegistryAuth::Anonymous);
        };
        entry.1.credentials().map_err(|why| {
            file_error(
                path,
                "registry auth",
                &format!("entry {:?}: {why}", entry.0),
            )
        })
    }
}

/// The subset of Docker's config file rotor reads.
#[derive(Debug, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Debug, Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl DockerAuth {
    fn credentials(&self) -> Result<RegistryAuth, String> {
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
        }
        let encoded = self
            .auth
            .as_deref()
            .ok_or("neither `auth` nor `username` and `password`")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "`auth` is not base64")?;
        let text = String::from_utf8(decoded).map_err(|_| "`auth` is not UTF-8")?;
        let (user, password) = text.split_once(':').ok_or("`auth` is not user:password")?;
        Ok(RegistryAuth::Basic(user.to_string(), password.to_string()))
    }
}

/// `https://host:port/v1/` and `host:port` both name `host:port`.
fn server_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// `localhost`, 127.0.0.0/8 or ::1, with or without a port.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, OciError> {
    std::fs::read(path).map_err(|e| file_error(path, what, &format!("cannot read: {e}")))
}

fn file_error(path: &Path, what: &'static str, message: &str) -> OciError {
    OciError::File {
        what,
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(host: &str) -> PolicyRef {
        PolicyRef::parse(&format!("oci://{host}/p:v1")).expect("reference")
    }

    #[test]
    fn loopback_is_plain_http_unless_a_ca_is_given() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("10.0.0.1"));
        let options = RegistryOptions::default();
        let transport = options.transport("127.0.0.1:5000").expect("transport");
        assert_eq!(transport.plain_http, vec!["127.0.0.1:5000".to_string()]);
        let transport = options.transport("registry.example").expect("transport");
        assert!(transport.plain_http.is_empty());
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").expect("write");
        let with_ca = RegistryOptions {
            registry_ca: Some(ca),
            ..RegistryOptions::default()
        };
        let err = with_ca
            .transport("127.0.0.1:5000")
            .expect_err("bad CA")
            .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn credentials_come_from_the_matching_docker_config_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("robot:s3cret");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"https://registry.example/v1/":{{"auth":"{auth}"}},
                "other.example":{{"username":"u","password":"p"}}}}}}"#
            ),
        )
        .expect("write");
        let options = RegistryOptions {
            registry_auth: Some(path.clone()),
            ..RegistryOptions::default()
        };
        assert_eq!(
            options
                .auth_for(&reference("registry.example"))
                .expect("auth"),
            RegistryAuth::Basic("robot".into(), "s3cret".into())
        );
        assert_eq!(
            options.auth_for(&reference("other.example")).expect("auth"),
            RegistryAuth::Basic("u".into(), "p".into())
        );
        assert_eq!(
            options.auth_for(&reference("third.example")).expect("auth"),
            RegistryAuth::Anonymous
        );
        std::fs::write(&path, r#"{"auths":{"registry.example":{"auth":"!!"}}}"#).expect("write");
        let err = options
            .auth_for(&reference("registry.example"))
            .expect_err("bad auth")
            .to_string();
        assert!(err.contains("`auth` is not base64"), "{err}");
    }
}
