#!/usr/bin/env python3
"""Checks every pod spec in rendered manifests against the Pod Security
Standard "restricted" profile (Kubernetes 1.33 rules, baseline included),
plus rotor's own rules for its pods: a numeric non-root UID, a read-only
root filesystem and no service-link environment.

Usage: restricted_profile.py RENDERED.yaml...
Exits 1 when any pod spec breaks a rule; prints the pod specs checked.
"""

from __future__ import annotations

import sys

import yaml

# Volume types the restricted profile allows.
ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret", "image",
}
# Sysctls the baseline profile allows.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def pod_specs(doc: dict):
    """Yields (label, pod spec) for each pod template a manifest carries."""
    kind = doc.get("kind")
    name = f"{kind} {(doc.get('metadata') or {}).get('namespace', '-')}/{(doc.get('metadata') or {}).get('name')}"
    spec = doc.get("spec") or {}
    if kind == "Pod":
        yield name, spec
    elif kind == "CronJob":
        yield name, spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        yield name, spec["template"]["spec"]


def check_pod(pod: dict) -> list[str]:
    problems = []
    psc = pod.get("securityContext") or {}
    containers = [
        (group, c)
        for group in ("initContainers", "containers", "ephemeralContainers")
        for c in pod.get(group) or []
    ]

    # Baseline: host namespaces, ports, paths, sysctls, SELinux, AppArmor.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} is set")
    for vol in pod.get("volumes") or []:
        source = [k for k in vol if k != "name"]
        if "hostPath" in source:
            problems.append(f"volume {vol.get('name')} is a hostPath")
        elif not set(source) <= ALLOWED_VOLUMES:
            problems.append(f"volume {vol.get('name')} has type {source} outside the restricted set")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("pod windowsOptions.hostProcess is set")

    def selinux_ok(ctx: dict, where: str):
        opts = ctx.get("seLinuxOptions") or {}
        if opts.get("type", "") not in SELINUX_TYPES:
            problems.append(f"{where} seLinuxOptions.type {opts.get('type')!r} is not allowed")
        for field in ("user", "role"):
            if opts.get(field):
                problems.append(f"{where} seLinuxOptions.{field} is set")

    def apparmor_ok(ctx: dict, where: str):
        profile = (ctx.get("appArmorProfile") or {}).get("type")
        if profile not in (None, "RuntimeDefault", "Localhost"):
            problems.append(f"{where} appArmorProfile.type {profile!r} is not allowed")

    def seccomp_type(ctx: dict):
        return (ctx.get("seccompProfile") or {}).get("type")

    selinux_ok(psc, "pod")
    apparmor_ok(psc, "pod")
    if psc.get("runAsUser") == 0:
        problems.append("pod runAsUser is 0")
    if seccomp_type(psc) not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"pod seccompProfile.type {seccomp_type(psc)!r} is not allowed")

    for group, c in containers:
        where = f"{group[:-1]} {c.get('name')}"
        sc = c.get("securityContext") or {}
        selinux_ok(sc, where)
        apparmor_ok(sc, where)
        if sc.get("privileged"):
            problems.append(f"{where} is privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where} windowsOptions.hostProcess is set")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{where} procMount is {sc.get('procMount')!r}")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where} uses hostPort {port['hostPort']}")
        # Restricted: privilege escalation, non-root, seccomp, capabilities.
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where} does not set allowPrivilegeEscalation: false")
        if sc.get("runAsNonRoot") is False:
            problems.append(f"{where} sets runAsNonRoot: false")
        if not (sc.get("runAsNonRoot") is True or psc.get("runAsNonRoot") is True):
            problems.append(f"{where} is not runAsNonRoot (container or pod)")
        if sc.get("runAsUser") == 0:
            problems.append(f"{where} runAsUser is 0")
        kind = seccomp_type(sc) or seccomp_type(psc)
        if kind not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where} has no RuntimeDefault/Localhost seccomp profile (container or pod)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{where} does not drop ALL capabilities")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            problems.append(f"{where} adds capabilities {sorted(extra)}")
        # rotor's rules on top of the profile.
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if not isinstance(uid, int) or uid <= 0:
            problems.append(f"{where} has no numeric non-root runAsUser (kubelet cannot verify a named image user)")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where} root filesystem is writable")
    if pod.get("enableServiceLinks") is not False:
        problems.append("enableServiceLinks is not false")
    return problems


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in sys.argv[1:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        checked = 0
        for doc in docs:
            for name, pod in pod_specs(doc):
                checked += 1
                for problem in check_pod(pod):
                    failed = True
                    print(f"  {path}: {name}: {problem}", file=sys.stderr)
        print(f"{path.rsplit('/', 1)[-1]}: {checked} pod specs checked against the restricted profile")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
