//! Native sidecars in real pods. Linkerd injects its proxy as a regular
//! container, or (`proxy.nativeSidecar`, the default since Linkerd 2.20) as
//! an init container with `restartPolicy: Always`: a Kubernetes native
//! sidecar (KEP-753). Here: which containers run beside the app (sidecars
//! yes, run-to-completion init containers such as `linkerd-init` no), and
//! why a pod whose proxy sidecar never passed its startup probe is still in
//! Init, so gates can name it instead of waiting out their deadline.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod as K8sPod, PodSpec};

use crate::linkerd::{PROXY_CONTAINER, PROXY_STUCK_IN_INIT};

/// An init container that runs for the pod's life: `restartPolicy: Always`
/// (Kubernetes' "Sidecar containers" concept page).
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The containers that run for the pod's life: its containers, then its
/// native sidecars. An init container that runs to completion is left out.
pub fn running_containers(spec: &PodSpec) -> Vec<String> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    spec.containers
        .iter()
        .chain(sidecars)
        .map(|c| c.name.clone())
        .collect()
}

/// Whether the pod's proxy is a native sidecar.
fn proxy_is_sidecar(spec: &PodSpec) -> bool {
    spec.init_containers
        .iter()
        .flatten()
        .any(|c| c.name == PROXY_CONTAINER && is_sidecar(c))
}

/// Why the pod is held in Init by its proxy sidecar, once the kubelet has
/// given up on it at least once: phase Pending, the proxy sidecar not
/// Ready, restarted. Linkerd gives the native sidecar a startup probe on
/// the proxy's `/ready` (120 failures, one second apart, in the chart's
/// `proxy.startupProbe`); the kubelet starts the app containers only after
/// it passes, and restarts the sidecar when it runs out. A proxy that gets
/// no identity certificate never passes it. The status does not say why
/// the proxy is not ready (its log does); the restarts and the kubelet's
/// last word are what it gives.
pub fn proxy_stuck_in_init(pod: &K8sPod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let status = pod.status.as_ref()?;
    if pod.metadata.deletion_timestamp.is_some()
        || status.phase.as_deref() != Some("Pending")
        || !proxy_is_sidecar(spec)
    {
        return None;
    }
    let proxy = status
        .init_container_statuses
        .iter()
        .flatten()
        .find(|s| s.name == PROXY_CONTAINER)?;
    if proxy.ready || proxy.restart_count < 1 {
        return None;
    }
    Some(format!(
        "{PROXY_STUCK_IN_INIT} ({})",
        what_kubelet_says(proxy)
    ))
}

fn what_kubelet_says(s: &ContainerStatus) -> String {
    let times = if s.restart_count == 1 {
        "time"
    } else {
        "times"
    };
    let mut parts = vec![format!(
        "startup probe failed; restarted {} {times}",
        s.restart_count
    )];
    if let Some(w) = s.state.as_ref().and_then(|st| st.waiting.as_ref())
        && let Some(reason) = &w.reason
    {
        parts.push(reason.clone());
    }
    if let Some(t) = s.last_state.as_ref().and_then(|st| st.terminated.as_ref()) {
        let reason = t.reason.as_deref().unwrap_or("terminated");
        parts.push(format!("last exit: {reason}, code {}", t.exit_code));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod as the API server returns it when Linkerd injected the proxy as
    /// a native sidecar, behind `linkerd-init`.
    fn native_pod(phase: &str, proxy_status: serde_json::Value) -> K8sPod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-7d9f-abcde", "namespace": "shop"},
            "spec": {
                "initContainers": [
                    {"name": "linkerd-init", "image": "cr.l5d.io/linkerd/proxy-init:v2.4.2"},
                    {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-25.12.1",
                     "restartPolicy": "Always",
                     "startupProbe": {"httpGet": {"path": "/ready", "port": 4191},
                                      "periodSeconds": 1, "failureThreshold": 120}}
                ],
                "containers": [{"name": "app", "image": "ghcr.io/example/web:1.0.0"}]
            },
            "status": {
                "phase": phase,
                "initContainerStatuses": [
                    {"name": "linkerd-init", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    proxy_status
                ]
            }
        }))
        .expect("a valid Pod")
    }

    fn proxy_status(ready: bool, restarts: i32) -> serde_json::Value {
        json!({
            "name": "linkerd-proxy", "ready": ready, "started": ready,
            "restartCount": restarts, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "Error"}}
        })
    }

    #[test]
    fn a_native_sidecar_runs_beside_the_app_and_linkerd_init_does_not() {
        let pod = native_pod("Running", proxy_status(true, 0));
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(running_containers(spec), ["app", "linkerd-proxy"]);
        assert!(proxy_is_sidecar(spec));
    }

    #[test]
    fn an_init_container_without_restart_policy_always_is_no_sidecar() {
        let mut pod = native_pod("Running", proxy_status(true, 0));
        let spec = pod.spec.as_mut().expect("spec");
        for c in spec.init_containers.iter_mut().flatten() {
            c.restart_policy = None;
        }
        assert_eq!(running_containers(spec), ["app"]);
        assert!(!proxy_is_sidecar(spec));
        pod.status = native_pod("Pending", proxy_status(false, 3)).status;
        assert_eq!(proxy_stuck_in_init(&pod), None, "no sidecar, no Init hold");
    }

    #[test]
    fn a_proxy_sidecar_restarted_in_init_is_named_with_what_the_kubelet_says() {
        let pod = native_pod("Pending", proxy_status(false, 2));
        assert_eq!(
            proxy_stuck_in_init(&pod).as_deref(),
            Some(
                "proxy sidecar not ready in Init (startup probe failed; restarted 2 times; \
                 CrashLoopBackOff; last exit: Error, code 137)"
            )
        );
    }

    #[test]
    fn a_proxy_sidecar_still_within_its_first_startup_probe_is_not_reported() {
        assert_eq!(
            proxy_stuck_in_init(&native_pod("Pending", proxy_status(false, 0))),
            None
        );
        assert_eq!(
            proxy_stuck_in_init(&native_pod("Running", proxy_status(true, 1))),
            None,
            "a sidecar that recovered and let the app start"
        );
    }
}
