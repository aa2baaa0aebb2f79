#!/usr/bin/env python3
"""Asserts what the chart must render for each CI value set.

Usage: assert_rendered.py DIR
DIR holds <value-set>.yaml files rendered by chart-checks.sh (release
`rotor`, namespace `rotor-system`), plus monitoring-values.no-api.yaml (the
monitoring value set rendered without the monitoring.coreos.com/v1 API).
Prints one line per check and a closing "N passed, N failed" line.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

RELEASE_NS = "rotor-system"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def load(directory: pathlib.Path, name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((directory / f"{name}.yaml").read_text()) if d]


def find(docs, kind, name=None, namespace=None):
    return [
        d for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def one(docs, kind, name=None, namespace=None):
    found = find(docs, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def cronjob(docs):
    """The rotation's CronJob (not the resume one)."""
    found = [c for c in find(docs, "CronJob") if not c["metadata"]["name"].endswith("-resume")]
    assert len(found) == 1, f"expected one rotation CronJob, found {len(found)}"
    return found[0]


def pod_spec(docs):
    return cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def args(docs):
    return pod_spec(docs)["containers"][0]["args"]


def run_config(docs):
    cm = [d for d in find(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config")]
    assert len(cm) == 1, "expected one run configuration ConfigMap"
    return yaml.safe_load(cm[0]["data"]["config.yaml"])


def rules_of(doc):
    return doc.get("rules") or []


def grants(rules, group, resource):
    """Verbs granted on group/resource and whether narrowed by name."""
    out = []
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            out.append((set(rule["verbs"]), tuple(rule.get("resourceNames") or ())))
    return out


@check
def default_cronjob_shape(d):
    docs = load(d, "default-values")
    cj = cronjob(docs)
    spec, job = cj["spec"], cj["spec"]["jobTemplate"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timeZone"] == "Etc/UTC" and "TZ=" not in spec["schedule"]
    assert spec["suspend"] is False and spec["startingDeadlineSeconds"] > 0
    assert job["activeDeadlineSeconds"] == 7200 + 600, "activeDeadlineSeconds must be rotor's deadline plus the margin"
    assert job["podReplacementPolicy"] == "Failed"
    assert job["ttlSecondsAfterFinished"] > 0
    fail_job = [r for r in job["podFailurePolicy"]["rules"] if r["action"] == "FailJob"]
    assert fail_job and fail_job[0]["onExitCodes"]["values"] == [2, 4], "exit codes 2 and 4 are never retried"
    assert fail_job[0]["onExitCodes"]["containerName"] == "rotor"
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["enableServiceLinks"] is False
    labels = cj["metadata"]["labels"]
    for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                "app.kubernetes.io/managed-by", "helm.sh/chart"):
        assert key in labels, f"CronJob lacks label {key}"


@check
def default_runs_embedded_policy_with_json_report(d):
    a = args(load(d, "default-values"))
    assert a[0] == "run"
    assert a[a.index("--config") + 1] == "/etc/rotor/config.yaml"
    assert a[a.index("--namespace") + 1] == RELEASE_NS
    assert a[a.index("--output") + 1] == "json"
    assert "--guest" not in a and "--dry-run" not in a
    for flag in ("--policy-cache", "--verify", "--registry-auth", "--registry-ca", "--plain-http-registry"):
        assert flag not in a, f"the embedded policy needs no {flag}"
    env = {e["name"]: e["value"] for e in pod_spec(load(d, "default-values"))["containers"][0]["env"]}
    mounts = {m["mountPath"]: m["name"] for m in pod_spec(load(d, "default-values"))["containers"][0]["volumeMounts"]}
    assert mounts.get(env["ROTOR_CACHE_DIR"]) == "cache", "ROTOR_CACHE_DIR must be the emptyDir mount"
    # The preflight lint judges renewals against the CronJob's own interval.
    assert run_config(load(d, "default-values"))["policy"]["scheduleIntervalSeconds"] == 2678400
    assert run_config(load(d, "monitoring-values"))["policy"]["scheduleIntervalSeconds"] == 86400
    # Pods of owners rotor does not restart: reported (refused) by default.
    assert run_config(load(d, "default-values"))["policy"]["unowned"] == {"ownerKinds": {}, "barePods": "report"}
    assert run_config(load(d, "monitoring-values"))["policy"]["unowned"] == {
        "ownerKinds": {"Rollout": "delete-pods", "StrimziPodSet": "strimzi"},
        "barePods": "delete",
    }


@check
def custom_owner_patches_granted_only_for_the_strategies_named(d):
    # monitoring-values names strimzi (not argo-rollouts): StrimziPodSets
    # may be patched, Rollouts may not; the defaults name neither.
    rules = rules_of(one(load(d, "monitoring-values"), "ClusterRole"))
    assert grants(rules, "core.strimzi.io", "strimzipodsets") == [({"patch"}, ())], rules
    assert not grants(rules, "argoproj.io", "rollouts"), rules
    for doc in load(d, "default-values"):
        if doc.get("kind") in ("ClusterRole", "Role"):
            assert not grants(rules_of(doc), "core.strimzi.io", "strimzipodsets")
            assert not grants(rules_of(doc), "argoproj.io", "rollouts")


@check
def default_run_config_matches_contract(d):
    cfg = run_config(load(d, "default-values"))
    assert set(cfg) == {"policy", "grants", "limits", "events"}
    assert cfg["events"] == {"subject": {
        "kind": "Certificate", "namespace": "cert-manager", "name": "linkerd-trust-anchor"}}
    assert cfg["grants"]["readNamespaces"] == ["*"] and cfg["grants"]["writeNamespaces"] == ["*"]
    assert cfg["grants"]["readSecrets"] == [
        "cert-manager/linkerd-trust-anchor", "cert-manager/linkerd-previous-anchor", "linkerd/linkerd-identity-issuer"]
    assert cfg["grants"]["writeSecrets"] == ["cert-manager/linkerd-previous-anchor"]
    assert cfg["limits"] == {"deadlineSeconds": 7200, "maxWaitSeconds": 3600, "memoryMiB": 128, "cpuSeconds": 10}
    assert all(isinstance(v, int) for v in cfg["limits"].values()), "limits must render as integers"


@check
def default_certificate_chain(d):
    docs = load(d, "default-values")
    root = one(docs, "Issuer", "linkerd-trust-root-issuer", "cert-manager")
    assert root["spec"] == {"selfSigned": {}}
    anchor = one(docs, "Certificate", "linkerd-trust-anchor", "cert-manager")["spec"]
    assert anchor["isCA"] and anchor["commonName"] == "root.linkerd.cluster.local"
    assert anchor["issuerRef"] == {"name": "linkerd-trust-root-issuer", "kind": "Issuer", "group": "cert-manager.io"}
    assert anchor["privateKey"]["algorithm"] == "ECDSA" and anchor["privateKey"]["rotationPolicy"] == "Always"
    assert "renewal" not in anchor, "renewal.policy must be opt-in (cert-manager < 1.21 rejects it)"
    ci = one(docs, "ClusterIssuer", "linkerd-identity-issuer")
    assert ci["spec"] == {"ca": {"secretName": "linkerd-trust-anchor"}}
    issuer = one(docs, "Certificate", "linkerd-identity-issuer", "linkerd")["spec"]
    assert issuer["isCA"] and issuer["duration"] == "48h" and issuer["renewBefore"] == "25h"
    assert issuer["issuerRef"]["kind"] == "ClusterIssuer" and issuer["secretName"] == "linkerd-identity-issuer"


@check
def default_bundle_has_both_anchors(d):
    bundle = one(load(d, "default-values"), "Bundle", "linkerd-identity-trust-roots")["spec"]
    assert bundle["sources"] == [
        {"secret": {"name": "linkerd-trust-anchor", "key": "tls.crt"}},
        {"secret": {"name": "linkerd-previous-anchor", "key": "tls.crt"}},
    ]
    assert bundle["target"]["configMap"] == {"key": "ca-bundle.crt"}
    assert bundle["target"]["namespaceSelector"] == {"matchLabels": {"linkerd.io/is-control-plane": "true"}}


@check
def cluster_bundle_has_the_same_sources_and_target(d):
    docs = load(d, "cluster-bundle-values")
    assert not find(docs, "Bundle"), "a ClusterBundle replaces the Bundle"
    cb = one(docs, "ClusterBundle", "linkerd-identity-trust-roots")
    assert cb["apiVersion"] == "trust-manager.io/v1alpha2"
    spec = cb["spec"]
    assert spec["sourceRefs"] == [
        {"kind": "Secret", "name": "linkerd-trust-anchor", "key": "tls.crt"},
        {"kind": "Secret", "name": "linkerd-previous-anchor", "key": "tls.crt"},
    ]
    assert spec["target"]["configMap"] == {"data": [{"key": "ca-bundle.crt"}]}
    assert spec["target"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["linkerd"]


@check
def previous_anchor_bootstrap_copies_the_certificate_only(d):
    docs = load(d, "default-values")
    job = [j for j in find(docs, "Job") if j["metadata"]["name"].endswith("-bootstrap")]
    assert len(job) == 1
    meta = job[0]["metadata"]["annotations"]
    assert "post-install" in meta["helm.sh/hook"]
    script = job[0]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "kubectl create -f -" in script, "a missing copy is created, never applied"
    # Only a copy holding more than tls.crt is replaced (delete and create: the type changes).
    assert script.count("kubectl replace --force -f -") == 1, "one replacement, of a key-holding copy"
    for verb in ("kubectl apply", "kubectl patch", "--overwrite"):
        assert verb not in script, f"bootstrap must not use {verb}"
    assert 'type: "Opaque", data: {"tls.crt": .data["tls.crt"]}' in script, "the certificate only, never the key"
    assert "tls.key" not in script, "the script never names the key"
    role = [r for r in find(docs, "Role", namespace="cert-manager") if r["metadata"]["name"].endswith("-bootstrap")][0]
    for verbs, names in grants(rules_of(role), "", "secrets"):
        assert not verbs & {"update", "patch"}, "bootstrap may not update secrets"
        if "delete" in verbs:
            assert names == ("linkerd-previous-anchor",), f"bootstrap deletes only the previous anchor: {names}"


@check
def no_cluster_wide_secret_access(d):
    for name in ("default-values", "namespaced-rbac-values", "site-policy-configmap-values",
                 "site-policy-oci-values", "monitoring-values", "existing-objects-values"):
        for doc in find(load(d, name), "ClusterRole"):
            assert not grants(rules_of(doc), "", "secrets"), f"{name}: ClusterRole grants secrets"
            assert not grants(rules_of(doc), "", "configmaps"), f"{name}: ClusterRole grants configmaps"


@check
def secrets_narrowed_and_only_previous_anchor_written(d):
    docs = load(d, "default-values")
    writes = []
    for role in find(docs, "Role"):
        if role["metadata"]["name"].endswith("-bootstrap"):
            continue
        for verbs, names in grants(rules_of(role), "", "secrets"):
            assert names, f"Role {role['metadata']['namespace']}/{role['metadata']['name']} grants secrets without resourceNames"
            if verbs & {"create", "update", "patch", "delete"}:
                writes.append((role["metadata"]["namespace"], names, verbs))
    assert writes == [("cert-manager", ("linkerd-previous-anchor",), {"update"})], writes
    reads = sorted(
        (role["metadata"]["namespace"], n)
        for role in find(docs, "Role")
        if not role["metadata"]["name"].endswith("-bootstrap")
        for verbs, names in grants(rules_of(role), "", "secrets") if "get" in verbs
        for n in names
    )
    assert reads == [("cert-manager", "linkerd-previous-anchor"), ("cert-manager", "linkerd-trust-anchor"),
                     ("linkerd", "linkerd-identity-issuer")], reads


@check
def cluster_mode_rules_are_exactly_what_rotor_uses(d):
    role = one(load(d, "default-values"), "ClusterRole")
    got = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in rules_of(role)}
    want = {
        (("",), ("namespaces",)): {"list"},
        (("apps",), ("deployments", "statefulsets", "daemonsets")): {"get", "list", "watch", "patch"},
        (("apps",), ("replicasets",)): {"list"},
        (("",), ("pods",)): {"list", "delete"},
        (("",), ("pods/eviction",)): {"create"},
        (("cert-manager.io",), ("certificates",)): {"get"},
        (("cert-manager.io",), ("certificates/status",)): {"update"},
        (("",), ("events",)): {"list"},
        (("events.k8s.io",), ("events",)): {"create", "patch"},
    }
    assert got == want, got


@check
def own_namespace_lease_and_progress(d):
    docs = load(d, "default-values")
    role = [r for r in find(docs, "Role", namespace=RELEASE_NS) if r["metadata"]["name"].endswith("-state")]
    assert len(role) == 1
    rules = rules_of(role[0])
    assert ({"get", "patch", "delete"}, ("rotor-progress",)) in grants(rules, "", "configmaps")
    assert ({"create"}, ()) in grants(rules, "", "configmaps")
    assert ({"get", "update"}, ("rotor",)) in grants(rules, "coordination.k8s.io", "leases")
    assert ({"create"}, ()) in grants(rules, "coordination.k8s.io", "leases")
    # The trust roots, and linkerd-config for the control plane's version: read only.
    assert ({"get"}, ("linkerd-identity-trust-roots", "linkerd-config")) in grants(
        rules_of(one(docs, "Role", namespace="linkerd")), "", "configmaps")


@check
def namespaced_mode_has_no_cluster_wide_workload_access(d):
    docs = load(d, "namespaced-rbac-values")
    cluster = one(docs, "ClusterRole")
    assert [(r["resources"], r["verbs"]) for r in rules_of(cluster)] == [(["namespaces"], ["list"])]
    managed = {r["metadata"]["namespace"] for r in find(docs, "Role")
               if grants(rules_of(r), "apps", "deployments")}
    assert managed == {"linkerd-system", "certs", "linkerd-viz", "emojivoto", "booksapp"}, managed
    bound = {b["metadata"]["namespace"] for b in find(docs, "RoleBinding")
             if b["roleRef"]["name"] == "rotor-with-a-rather-long-name-that-must-be-truncated-for-jobs"}
    assert bound == managed
    cfg = run_config(docs)
    assert cfg["grants"]["readNamespaces"] == ["linkerd-system", "certs", "linkerd-viz", "emojivoto", "booksapp"]
    assert cfg["grants"]["writeSecrets"] == ["certs/linkerd-previous-anchor"]


@check
def namespaced_long_name_truncated_for_jobs(d):
    docs = load(d, "namespaced-rbac-values")
    name = cronjob(docs)["metadata"]["name"]
    assert len(name) <= 52 and not name.endswith("-"), name
    assert len(name + "-29410000") <= 63
    assert cronjob(docs)["spec"]["suspend"] is True
    assert cronjob(docs)["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 10800 + 600


@check
def site_policy_from_configmap_pinned(d):
    docs = load(d, "site-policy-configmap-values")
    a = args(docs)
    assert a[a.index("--guest") + 1] == "/etc/rotor/policy/site-policy.wasm"
    assert a[a.index("--guest-sha256") + 1] == "24eaf3439a60c96764c4f2c92a0a81b52bd4fe5d5b91f090184a0f6486b1bf29"
    assert "--dry-run" in a
    cm = one(docs, "ConfigMap", "rotor-policy", RELEASE_NS)
    assert cm["binaryData"] == {"site-policy.wasm": "AGFzbQ0AAQA="}
    vol = [v for v in pod_spec(docs)["volumes"] if v["name"] == "policy"][0]
    assert vol["configMap"]["name"] == "rotor-policy"
    assert run_config(docs)["policy"] == {"mode": "issuer-only", "parallelism": 10, "excludeNamespaces": ["kube-system"]}
    image = pod_spec(docs)["containers"][0]["image"]
    assert image.endswith("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), image


@check
def site_policy_from_oci_pinned_and_verified(d):
    docs = load(d, "site-policy-oci-values")
    pod = pod_spec(docs)
    container = pod["containers"][0]
    a = container["args"]
    ref = a[a.index("--guest") + 1]
    assert ref.startswith("oci://registry.example.com:5000/platform/rotor-policy@sha256:"), ref
    assert "--allow-unpinned-guest" not in a, "the chart runs policies pinned by digest only"
    assert "--guest-sha256" not in a, "policy.sha256 is optional for oci and was not set"
    flags = [(f, a[i + 1]) for i, f in enumerate(a) if f in (
        "--policy-cache", "--registry-auth", "--registry-ca", "--plain-http-registry", "--verify")]
    assert flags == [
        ("--policy-cache", "/var/cache/rotor/policies"),
        ("--registry-auth", "/etc/rotor/registry-auth/.dockerconfigjson"),
        ("--registry-ca", "/etc/rotor/registry-ca/roots.pem"),
        ("--plain-http-registry", "mirror.registry.svc:5000"),
        ("--verify", "/etc/rotor/verify.yaml"),
    ], flags
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # Every file a flag names is on a read-only mount, the cache on the emptyDir.
    assert mounts["/var/cache/rotor"]["name"] == "cache" and "emptyDir" in volumes["cache"]
    assert mounts["/etc/rotor/registry-auth"]["readOnly"] is True
    assert volumes[mounts["/etc/rotor/registry-auth"]["name"]]["secret"] == {
        "secretName": "policy-registry", "items": [{"key": ".dockerconfigjson", "path": ".dockerconfigjson"}]}
    assert "imagePullSecrets" not in pod, "the policy's pull secret is not the image's"
    assert volumes[mounts["/etc/rotor/registry-ca"]["name"]]["configMap"] == {
        "name": "registry-roots", "items": [{"key": "roots.pem", "path": "roots.pem"}]}
    verify = mounts["/etc/rotor/verify.yaml"]
    assert verify["name"] == "config" and verify["subPath"] == "verify.yaml" and verify["readOnly"] is True
    keys = mounts["/etc/rotor/policy-keys"]
    assert keys["readOnly"] is True
    assert volumes[keys["name"]]["configMap"]["name"] == "rotor-policy-keys"
    mounted = [i["path"] for i in volumes[keys["name"]]["configMap"]["items"]]
    assert mounted == ["release.pub", "security.pub", "platform.pub"], mounted
    assert "policy" not in volumes, "an OCI policy mounts no policy file"
    cm = one(docs, "ConfigMap", "rotor-config", RELEASE_NS)
    cfg = yaml.safe_load(cm["data"]["verify.yaml"])
    assert cfg == {"threshold": 2, "keys": [
        {"name": n, "path": f"/etc/rotor/policy-keys/{n}.pub"} for n in ("release", "security", "platform")]}, cfg
    assert run_config(docs)["policy"] == {"mode": "issuer-only"}
    assert not [c for c in find(docs, "ConfigMap") if c["metadata"]["name"] == "rotor-policy"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@check
def existing_objects_switch_everything_off(d):
    docs = load(d, "existing-objects-values")
    for kind in ("Certificate", "Issuer", "ClusterIssuer", "Bundle", "Job"):
        assert not find(docs, kind), f"{kind} rendered although switched off"
    vol = [v for v in pod_spec(docs)["volumes"] if v["name"] == "policy"][0]
    assert vol["persistentVolumeClaim"] == {"claimName": "rotor-policies", "readOnly": True}
    a = args(docs)
    assert a[a.index("--guest") + 1] == "/etc/rotor/policy/linkerd-rotation-v2.wasm"
    assert pod_spec(docs)["serviceAccountName"] == "rotor-runner"
    sa = one(docs, "ServiceAccount", "rotor-runner", RELEASE_NS)
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/rotor"}
    pod = pod_spec(docs)
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in pod["affinity"]
    template = cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
    assert template["labels"]["sidecar.istio.io/inject"] == "false"
    assert template["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    for doc in docs:
        assert doc["metadata"]["labels"].get("team") == "platform", f"{doc['kind']} lacks commonLabels"


@check
def monitoring_rendered_only_with_the_api(d):
    with_api = load(d, "monitoring-values")
    rule = one(with_api, "PrometheusRule")
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert alerts == ["RotorRotationOverdue", "RotorJobFailed", "LinkerdTrustCertificateExpiringSoon",
                      "LinkerdIdentityServingOldIssuer"], alerts
    for g in rule["spec"]["groups"]:
        for r in g["rules"]:
            assert r["annotations"]["runbook_url"].endswith("#" + r["alert"].lower())
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not find(load(d, "monitoring-values.no-api"), "PrometheusRule")
    assert not find(load(d, "default-values"), "PrometheusRule")
    anchor = one(with_api, "Certificate", "linkerd-trust-anchor")["spec"]
    assert anchor["renewal"] == {"policy": "Disabled"} and anchor["privateKey"]["size"] == 384


@check
def notifications_only_when_configured(d):
    default = pod_spec(load(d, "default-values"))["containers"][0]
    assert "--pushgateway" not in default["args"] and "--webhook-format" not in default["args"]
    assert all(e["name"] != "ROTOR_WEBHOOK_URL" for e in default["env"])
    docs = load(d, "monitoring-values")
    container = pod_spec(docs)["containers"][0]
    a = container["args"]
    assert a[a.index("--pushgateway") + 1] == "http://pushgateway.monitoring:9091"
    assert a[a.index("--webhook-format") + 1] == "slack"
    env = {e["name"]: e for e in container["env"]}
    # The URL is a credential: only ever a reference to the Secret.
    assert env["ROTOR_WEBHOOK_URL"] == {"name": "ROTOR_WEBHOOK_URL", "valueFrom": {
        "secretKeyRef": {"name": "rotor-webhook", "key": "url"}}}
    trust = [r for r in find(docs, "Role", namespace="cert-manager") if r["metadata"]["name"].endswith("-trust")]
    assert len(trust) == 1
    assert {"create", "patch"} <= set().union(
        *(set(r["verbs"]) for r in rules_of(trust[0]) if "events.k8s.io" in r["apiGroups"])), \
        "the run's events on the anchor Certificate need events create in its namespace"


@check
def resume_cronjob_only_when_enabled(d):
    assert len(find(load(d, "default-values"), "CronJob")) == 1
    docs = load(d, "monitoring-values")
    main = cronjob(docs)
    resume = one(docs, "CronJob", "rotor-resume", RELEASE_NS)
    assert resume["spec"]["schedule"] == "17 * * * *"
    assert resume["spec"]["concurrencyPolicy"] == "Forbid"
    spec = lambda c: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    main_args = spec(main)["containers"][0]["args"]
    resume_args = spec(resume)["containers"][0]["args"]
    assert "--resume-only" in resume_args and "--resume-only" not in main_args
    # The same run otherwise: policy, config, credentials, service account.
    assert [a for a in resume_args if a != "--resume-only"] == main_args
    assert spec(resume)["serviceAccountName"] == spec(main)["serviceAccountName"]
    assert spec(resume)["volumes"] == spec(main)["volumes"]


@check
def dashboard_for_the_grafana_sidecar(d):
    import json
    assert not [c for c in find(load(d, "default-values"), "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    cm = one(load(d, "monitoring-values"), "ConfigMap", "rotor-dashboard", RELEASE_NS)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["rotor.json"])
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in ("rotor_last_success_timestamp_seconds", "rotor_gate_failures",
                   "certmanager_certificate_expiration_timestamp_seconds", "issuer_cert_ttl_seconds"):
        assert metric in exprs, metric
    variables = {v["name"]: v["query"] for v in dash["templating"]["list"]}
    assert variables["namespace"] == RELEASE_NS
    assert variables["certificates"] == "linkerd-trust-anchor|linkerd-identity-issuer"


@check
def rotor_writes_the_trust_roots_only_when_told(d):
    def config_map_writes(docs):
        return sorted(
            (role["metadata"]["namespace"], names, tuple(sorted(verbs)))
            for role in find(docs, "Role")
            for verbs, names in grants(rules_of(role), "", "configmaps")
            if verbs & {"create", "update", "patch", "delete"}
            and role["metadata"]["namespace"] != RELEASE_NS
        )
    docs = load(d, "no-trust-manager-values")
    assert not find(docs, "Bundle"), "bundle.writer rotor renders no Bundle"
    writes = config_map_writes(docs)
    assert writes == [("linkerd", ("linkerd-identity-trust-roots",), ("update",))], writes
    cfg = run_config(docs)
    assert cfg["policy"]["bundle"] == {"writer": "rotor"}, cfg["policy"]
    assert cfg["grants"]["writeConfigMaps"] == ["linkerd/linkerd-identity-trust-roots"], cfg["grants"]
    assert "write-config-map" in cfg["grants"]["verbs"], cfg["grants"]
    default = load(d, "default-values")
    assert config_map_writes(default) == [], config_map_writes(default)
    cfg = run_config(default)
    assert cfg["policy"]["bundle"] == {"writer": "trust-manager"}, cfg["policy"]
    assert cfg["grants"]["writeConfigMaps"] == [], cfg["grants"]
    assert "write-config-map" not in cfg["grants"]["verbs"], cfg["grants"]


@check
def staged_anchor_keeps_two_anchors_and_patches_the_issuer_by_name(d):
    docs = load(d, "staged-anchor-values")
    first = one(docs, "Certificate", "linkerd-trust-anchor", "cert-manager")["spec"]
    second = one(docs, "Certificate", "linkerd-trust-anchor-next", "cert-manager")["spec"]
    assert second["secretName"] == "linkerd-trust-anchor-next", second
    same = lambda spec: {k: v for k, v in spec.items() if k != "secretName"}
    assert same(second) == same(first), "the second anchor has the trust anchor's shape and root issuer"
    # `helm template` has no cluster to look up: the trust anchor's Secret.
    ci = one(docs, "ClusterIssuer", "linkerd-identity-issuer")
    assert ci["spec"] == {"ca": {"secretName": "linkerd-trust-anchor"}}, ci["spec"]
    bundle = one(docs, "Bundle", "linkerd-identity-trust-roots")["spec"]
    assert bundle["sources"] == [
        {"secret": {"name": "linkerd-trust-anchor", "key": "tls.crt"}},
        {"secret": {"name": "linkerd-trust-anchor-next", "key": "tls.crt"}},
    ], bundle["sources"]
    assert not [j for j in find(docs, "Job") if j["metadata"]["name"].endswith("-bootstrap")], \
        "a staged anchor keeps no previous anchor to bootstrap"
    assert "linkerd-previous-anchor" not in yaml.safe_dump_all(docs), "nothing names the previous anchor"
    issuer_rules = [g for doc in find(docs, "ClusterRole") + find(docs, "Role")
                    for g in grants(rules_of(doc), "cert-manager.io", "clusterissuers")
                    + grants(rules_of(doc), "cert-manager.io", "issuers")]
    assert issuer_rules == [({"get", "patch"}, ("linkerd-identity-issuer",))], issuer_rules
    secrets = sorted(
        (role["metadata"]["namespace"], n, tuple(sorted(verbs)))
        for role in find(docs, "Role")
        for verbs, names in grants(rules_of(role), "", "secrets")
        for n in names
    )
    assert secrets == [("cert-manager", "linkerd-trust-anchor", ("get",)),
                       ("cert-manager", "linkerd-trust-anchor-next", ("get",)),
                       ("linkerd", "linkerd-identity-issuer", ("get",))], secrets
    cfg = run_config(docs)
    g = cfg["grants"]
    assert g["writeIssuers"] == ["ClusterIssuer/linkerd-identity-issuer"], g
    assert "set-ca-issuer" in g["verbs"], g
    assert g["readSecrets"] == ["cert-manager/linkerd-trust-anchor", "cert-manager/linkerd-trust-anchor-next",
                                "linkerd/linkerd-identity-issuer"], g
    assert g["writeSecrets"] == [], g
    p = cfg["policy"]
    assert p["mode"] == "staged", p
    assert p["nextAnchor"] == {"namespace": "cert-manager", "name": "linkerd-trust-anchor-next"}, p
    assert "previousAnchorSecret" not in p, p
    # Off by default: no second anchor, no issuer grant, the policy not told.
    default = load(d, "default-values")
    assert not find(default, "Certificate", "linkerd-trust-anchor-next")
    for doc in find(default, "ClusterRole") + find(default, "Role"):
        assert not grants(rules_of(doc), "cert-manager.io", "clusterissuers"), doc["metadata"]["name"]
    cfg = run_config(default)
    assert cfg["grants"]["writeIssuers"] == [] and "set-ca-issuer" not in cfg["grants"]["verbs"], cfg["grants"]
    assert "mode" not in cfg["policy"] and "nextAnchor" not in cfg["policy"], cfg["policy"]


@check
def multicluster_management_runs_rotor_and_reads_only_the_kubeconfigs(d):
    docs = load(d, "multicluster-management-values")
    cronjob(docs)
    cfg = run_config(docs)
    clusters = cfg["clusters"]
    assert [c["name"] for c in clusters] == ["east", "west", "north"], clusters
    assert clusters[0]["home"] is True and "home" not in clusters[1], clusters
    assert clusters[1]["kubeconfigSecret"] == {"namespace": RELEASE_NS, "name": "west-kubeconfig",
                                                "key": "config"}, clusters[1]
    assert clusters[0]["kubeconfigSecret"]["key"] == "kubeconfig", clusters[0]
    assert "grants" not in clusters[0], "the home writes what one cluster writes"
    anchor = "cert-manager/linkerd-trust-anchor"
    for member in clusters[1:]:
        assert member["grants"]["writeSecrets"] == ["cert-manager/linkerd-previous-anchor", anchor], member
        assert member["grants"]["readSecrets"] == cfg["grants"]["readSecrets"], member
    assert clusters[2]["policy"] == {"parallelism": 20}, clusters[2]
    assert anchor not in cfg["grants"]["writeSecrets"], cfg["grants"]
    # Nothing of Linkerd's here: no certificates, Bundle, bootstrap Job or
    # Linkerd RBAC; one Role reading the named kubeconfig Secrets.
    kinds = {doc["kind"] for doc in docs}
    for absent in ("Certificate", "Issuer", "ClusterIssuer", "Bundle", "Job", "ClusterRole"):
        assert absent not in kinds, f"{absent} rendered in the management cluster"
    roles = find(docs, "Role")
    assert len(roles) == 1 and roles[0]["metadata"]["namespace"] == RELEASE_NS, \
        [r["metadata"]["name"] for r in roles]
    assert rules_of(roles[0]) == [{
        "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
        "resourceNames": ["east-kubeconfig", "west-kubeconfig", "north-kubeconfig"],
    }], rules_of(roles[0])


@check
def multicluster_member_has_the_rotation_rbac_and_writes_its_anchor_copy(d):
    docs = load(d, "multicluster-member-values")
    assert not find(docs, "CronJob") and not find(docs, "ConfigMap"), "a member runs nothing"
    assert not find(docs, "Certificate", "linkerd-trust-anchor"), "a member's anchor is a copy"
    assert not find(docs, "Issuer"), "no self-signed root issuer in a member"
    one(docs, "Certificate", "linkerd-identity-issuer", "linkerd")
    ci = one(docs, "ClusterIssuer", "linkerd-identity-issuer")
    assert ci["spec"] == {"ca": {"secretName": "linkerd-trust-anchor"}}, ci["spec"]
    one(docs, "Bundle", "linkerd-identity-trust-roots")
    secrets = sorted(
        (role["metadata"]["namespace"], n, tuple(sorted(verbs)))
        for role in find(docs, "Role")
        for verbs, names in grants(rules_of(role), "", "secrets")
        for n in names
    )
    assert ("cert-manager", "linkerd-trust-anchor", ("update",)) in secrets, secrets
    assert ("cert-manager", "linkerd-previous-anchor", ("update",)) in secrets, secrets
    one(docs, "Role", "rotor-state", RELEASE_NS)
    # The default install grants no write on the anchor itself.
    default = load(d, "default-values")
    for role in find(default, "Role"):
        for verbs, names in grants(rules_of(role), "", "secrets"):
            assert not ("linkerd-trust-anchor" in names and "update" in verbs), role["metadata"]["name"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = pathlib.Path(sys.argv[1])
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn(directory)
        except AssertionError as err:
            failed += 1
            print(f"FAIL {fn.__name__}: {err}")
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
