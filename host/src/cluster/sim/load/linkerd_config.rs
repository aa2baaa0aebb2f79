//! The `linkerd-config` ConfigMap the simulated control plane writes, as
//! Linkerd's chart does, so that rotor reads the control plane's version
//! and settings in the simulator where it reads them on a cluster.

use crate::cluster::sim::manifest::Labels;
use crate::cluster::sim::world::{ConfigMapRec, World};
use crate::linkerd::{CONTROL_PLANE_NS, CONTROL_PLANE_NS_LABEL};
use rotor_trust_lint::version::{CREATED_BY_ANNOTATION, LINKERD_CONFIG, VALUES_KEY};

/// The leaf lifetime as the chart's values write it (`24h0m0s`, the
/// model's `LEAF_LIFETIME`).
const ISSUANCE_LIFETIME: &str = "24h0m0s";

impl World {
    /// Write `linkerd/linkerd-config` unless the scenario gives its own:
    /// labels and the `linkerd.io/created-by` annotation as
    /// `charts/linkerd-control-plane/templates/config.yaml` renders them
    /// (with `partials.annotations.created-by`, `charts/partials/templates/
    /// _metadata.tpl`, for a Helm install), and the chart's values under
    /// `values`, of which the model writes those rotor reads:
    /// `identity.issuer.issuanceLifetime` (the leaves' lifetime the model
    /// issues), `linkerdVersion` and `proxy.nativeSidecar`.
    pub(super) fn write_linkerd_config(&mut self) {
        let key = (CONTROL_PLANE_NS.to_string(), LINKERD_CONFIG.to_string());
        if self.config_maps.contains_key(&key) {
            return;
        }
        let version = self.spec.linkerd_version().to_string();
        let values = format!(
            "identity:\n  issuer:\n    issuanceLifetime: {ISSUANCE_LIFETIME}\nlinkerdVersion: {version}\nproxy:\n  nativeSidecar: {}\n",
            self.spec.native_sidecar
        );
        let labels: Labels = [
            ("linkerd.io/control-plane-component", "controller"),
            (CONTROL_PLANE_NS_LABEL, CONTROL_PLANE_NS),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let annotations: Labels = [(
            CREATED_BY_ANNOTATION.to_string(),
            format!("linkerd/helm {version}"),
        )]
        .into_iter()
        .collect();
        let resource_version = self.next_rv();
        self.config_maps.insert(
            key,
            ConfigMapRec {
                data: [(VALUES_KEY.to_string(), values.into())]
                    .into_iter()
                    .collect(),
                labels,
                annotations,
                resource_version,
            },
        );
    }
}
