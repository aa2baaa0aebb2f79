//! The names of the objects a standard Linkerd + cert-manager +
//! trust-manager install uses, which rotor reads and writes: namespaces,
//! Certificates and their Secrets, the trust-roots ConfigMap, the proxy's
//! container, label and annotation. One definition, so the simulator, the
//! Kubernetes backend, `rotor status` and the Events rotor posts name the
//! same objects.

/// Linkerd's control-plane namespace (identity, destination, injector, the
/// trust roots and the identity issuer).
pub const CONTROL_PLANE_NS: &str = "linkerd";
/// cert-manager's namespace: the trust anchor's Certificate and Secret, and
/// trust-manager's trust namespace (where a Bundle's sources are read).
pub const CERT_MANAGER_NS: &str = "cert-manager";

/// The identity controller's Deployment (it posts `IssuerUpdated`).
pub const IDENTITY: &str = "linkerd-identity";
pub const DESTINATION: &str = "linkerd-destination";
pub const INJECTOR: &str = "linkerd-proxy-injector";

/// The trust anchor: a Certificate and its Secret in [`CERT_MANAGER_NS`].
pub const TRUST_ANCHOR: &str = "linkerd-trust-anchor";
/// The identity issuer: a Certificate and its Secret in [`CONTROL_PLANE_NS`].
pub const IDENTITY_ISSUER: &str = "linkerd-identity-issuer";
/// The Secret in [`CERT_MANAGER_NS`] holding the anchor being retired, a
/// trust-manager Bundle source while proxies still trust it.
pub const PREVIOUS_ANCHOR: &str = "linkerd-previous-anchor";

/// The trust bundle: the ConfigMap in [`CONTROL_PLANE_NS`] trust-manager
/// writes and the control plane and injector read, and its key.
pub const TRUST_ROOTS: &str = "linkerd-identity-trust-roots";
pub const TRUST_ROOTS_KEY: &str = "ca-bundle.crt";
/// The label trust-manager puts on a target it owns, naming the Bundle.
pub const BUNDLE_LABEL: &str = "trust.cert-manager.io/bundle";
/// The annotation trust-manager puts on a target it owns: the content's hash.
pub const BUNDLE_HASH_ANNOTATION: &str = "trust.cert-manager.io/hash";
/// The same two marks on a ClusterBundle's target (trust-manager
/// `pkg/apis/trustmanager/v1alpha2`: `BundleLabelKey`,
/// `BundleHashAnnotationKey`).
pub const CLUSTER_BUNDLE_LABEL: &str = "trust-manager.io/bundle";
pub const CLUSTER_BUNDLE_HASH_ANNOTATION: &str = "trust-manager.io/hash";

/// The proxy's container (a sidecar, or a native-sidecar init container).
pub const PROXY_CONTAINER: &str = "linkerd-proxy";
/// The pod-summary key the host answers (never read from the pod) with why
/// a pod's native-sidecar proxy holds it in Init: Pending, the proxy not
/// Ready, and restarted by the kubelet at least once (its startup probe,
/// about 120 s on `/ready`, ran out). The value starts
/// [`PROXY_STUCK_IN_INIT`] and gives the reason when the backend knows it.
pub const NOT_READY_KEY: &str = "rotor.dev/not-ready";
/// The start of every [`NOT_READY_KEY`] value.
pub const PROXY_STUCK_IN_INIT: &str = "proxy sidecar not ready in Init";
/// The proxy's environment variable holding its trust anchors (PEM).
pub const TRUST_ANCHORS_ENV: &str = "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS";
/// SHA-256 of the trust bundle a pod was injected with.
pub const TRUST_ROOT_SHA_ANNOTATION: &str = "linkerd.io/trust-root-sha256";
/// The label every meshed pod carries, naming the control plane's namespace.
pub const CONTROL_PLANE_NS_LABEL: &str = "linkerd.io/control-plane-ns";
/// Meshed pods: [`CONTROL_PLANE_NS_LABEL`]`=`[`CONTROL_PLANE_NS`].
pub const MESHED_SELECTOR: &str = "linkerd.io/control-plane-ns=linkerd";

/// The trust anchor's Certificate, as `(namespace, name)`.
pub const ANCHOR_CERTIFICATE: (&str, &str) = (CERT_MANAGER_NS, TRUST_ANCHOR);
/// The identity issuer's Certificate, as `(namespace, name)`.
pub const ISSUER_CERTIFICATE: (&str, &str) = (CONTROL_PLANE_NS, IDENTITY_ISSUER);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meshed_selector_is_the_label_and_the_namespace() {
        assert_eq!(
            MESHED_SELECTOR,
            format!("{CONTROL_PLANE_NS_LABEL}={CONTROL_PLANE_NS}")
        );
    }
}
