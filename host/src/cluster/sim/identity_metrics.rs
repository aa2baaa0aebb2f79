//! What Linkerd's identity controller serves at `/metrics` on its admin
//! port, as far as rotor reads it: the gauge `issuer_cert_ttl_seconds`,
//! "the remaining seconds until the issuer certificate expires", of the
//! issuer that replica has loaded, going negative after expiry (linkerd2
//! `pkg/identity/service.go`, registered with the service since
//! edge-25.2.1). A replica whose issuer did not verify at start is
//! crash-looping and serves nothing.
//!
//! A meshed pod's proxy serves, on its admin port 4191, when it took its
//! current leaf and when that leaf ends:
//! `identity_cert_refresh_timestamp_seconds` and
//! `identity_cert_expiration_timestamp_seconds`, gauges in seconds since
//! the epoch, 0 before the first leaf (linkerd2-proxy
//! `linkerd/identity/src/metrics.rs`, `CertMetrics`, registered under the
//! `identity_cert` prefix in `linkerd/app/src/identity.rs`; written by the
//! Rust `prometheus-client` crate, so floats read `1765000000.0`). Any
//! other pod or port answers as a closed port through the pod proxy does.

use rotor_trust_lint::version::LinkerdVersion;

use super::world::{Mesh, World};
use crate::cluster::{ClusterError, ClusterResult};

/// Linkerd identity's admin port.
pub const IDENTITY_ADMIN_PORT: u16 = 9990;
/// The proxy's admin port.
pub const PROXY_ADMIN_PORT: u16 = 4191;

/// A float as Go's Prometheus client writes it (`3.1535966e+07`).
fn go_float(v: f64) -> String {
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

impl World {
    pub fn pod_metrics(&self, namespace: &str, name: &str, port: u16) -> ClusterResult<String> {
        let id = self
            .pod_id(namespace, name)
            .ok_or_else(|| ClusterError::NotFound(format!("Pod {namespace}/{name}")))?;
        let refused = || {
            ClusterError::Unavailable(format!(
                "pod {namespace}/{name} port {port}: connection refused"
            ))
        };
        let pod = self.pod(id);
        if port == PROXY_ADMIN_PORT {
            let serving = pod.running && !pod.terminating && !pod.sidecar_down;
            if pod.mesh == Mesh::Off || !serving {
                return Err(refused());
            }
            let (set, ends) = pod
                .leaf
                .map_or((0.0, 0.0), |l| (pod.leaf_set_at as f64, l.not_after as f64));
            return Ok(format!(
                "# HELP identity_cert_expiration_timestamp_seconds Time when this proxy's current mTLS identity certificate will expire (in seconds since the UNIX epoch).\n\
                 # TYPE identity_cert_expiration_timestamp_seconds gauge\n\
                 # UNIT identity_cert_expiration_timestamp_seconds seconds\n\
                 identity_cert_expiration_timestamp_seconds {ends:?}\n\
                 # HELP identity_cert_refresh_timestamp_seconds Time when this proxy's current mTLS identity certificate was last updated.\n\
                 # TYPE identity_cert_refresh_timestamp_seconds gauge\n\
                 # UNIT identity_cert_refresh_timestamp_seconds seconds\n\
                 identity_cert_refresh_timestamp_seconds {set:?}\n"
            ));
        }
        let issuer = match pod.identity {
            Some(ctl) if port == IDENTITY_ADMIN_PORT && !pod.terminating => {
                ctl.issuer.ok_or_else(refused)?
            }
            _ => return Err(refused()),
        };
        let mut out = String::from(
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
             # TYPE process_start_time_seconds gauge\n",
        );
        out.push_str(&format!(
            "process_start_time_seconds {}\n",
            go_float(pod.start_time.unwrap_or(self.now) as f64)
        ));
        let version = LinkerdVersion::parse(self.spec.linkerd_version());
        if version.has_issuer_ttl_metric() != Some(false) {
            let ttl = self.pki.get(issuer).not_after - self.now;
            out.push_str(
                "# HELP issuer_cert_ttl_seconds The remaining seconds until the issuer certificate expires\n\
                 # TYPE issuer_cert_ttl_seconds gauge\n",
            );
            out.push_str(&format!(
                "issuer_cert_ttl_seconds {}\n",
                go_float(ttl as f64)
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn floats_are_written_as_go_writes_them() {
        assert_eq!(super::go_float(31_535_966.0), "3.1535966e+07");
        assert_eq!(super::go_float(-572.0), "-5.72e+02");
        assert_eq!(super::go_float(0.5), "5e-01");
    }
}
