#!/usr/bin/env bash
# Builds a real Kubernetes control plane for rotor's end-to-end tests from Go
# modules fetched through the Go module proxy (no images, no downloads from
# elsewhere), at the versions pinned below: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler (without it no pod is ever bound to
# kwok's fake nodes), kwok, cert-manager's controller, trust-manager; and
# cosign, which signs policy artifacts in rotor's registry tests.
#
# Usage: bash .ci/build-control-plane.sh
#
# Output: one directory per component under the cache directory
#   ${ROTOR_CONTROL_PLANE_CACHE:-$HOME/.cache/rotor/control-plane}/<component>-<version>/
# (binaries in bin/, CRDs in crds/, kwok stages in stages/). A component
# whose binaries are there, built from the same wrapper files and flags (a hash
# in bin/.source), is skipped, so a warm run takes seconds; the cache outlives
# the repo clone.
# The script then writes:
#   <cache>/bin/   symlinks to every binary of the pinned versions
#   <cache>/env    shell file (source it) with ROTOR_CP_BIN, ROTOR_CP_*_CRDS, ROTOR_CP_KWOK_STAGES,
#                  ROTOR_CP_VERSIONS, ROTOR_CP_COSIGN; tests/e2e/control-plane.sh
#                  and tests/support/registry.rs read it
# and prints a `real control plane: ...` line, a `signing: cosign ...` line,
# then the bin dir as the last line of stdout. Progress goes to stderr.
#
# cosign is pinned at major version 2: rotor reads the signatures cosign 2
# stores under the `sha256-<digest>.sig` tag, while cosign 3 by default writes
# a new bundle format attached as an OCI referrer.
#
# Each component family has its own wrapper module under .ci/control-plane/
# (go.mod + go.sum committed, for reproducible dependency versions; one module
# per family because MVS across Kubernetes, cert-manager and kwok would mix
# their dependency versions).
#
# Linkerd is not built: the Go module proxy refuses github.com/linkerd/linkerd2
# (and linkerd2-proxy-init, linkerd2-proxy-api) at every version with
# "403 Forbidden: This module version is not available", so neither its Helm
# charts nor its controller binary can be had from a registry here.
set -euo pipefail

# Pinned versions. Each must match the require line of its wrapper go.mod.
kubernetes_version=v1.35.4   # newest 1.35 patch the proxy serves; 1.35 is supported
etcd_version=v3.6.17         # newest 3.6 patch the proxy serves
kwok_version=v0.8.0
cert_manager_version=v1.21.2
trust_manager_version=v0.25.0
cosign_version=v2.6.5        # newest 2.x the proxy serves (its go.mod needs go 1.25)
go_min=1.26                  # kwok, cert-manager and trust-manager need go >= 1.26.0
go_toolchain=go1.26.8        # fetched from the proxy when the local Go is older

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wrappers="$root/.ci/control-plane"
cache="${ROTOR_CONTROL_PLANE_CACHE:-$HOME/.cache/rotor/control-plane}"

log() { printf 'build-control-plane: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A Go toolchain: any local one (PATH or /usr/local/go), else Debian's; a Go
# older than $go_min switches itself to $go_toolchain through the proxy.
ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    [[ "$(id -u)" == 0 ]] || die "no Go toolchain found and not root to apt-get install one"
    log "installing Debian's golang-go (it then fetches $go_toolchain)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2
  fi
  local have
  have="$(go env GOVERSION)"
  have="${have#go}"
  if [[ "$(printf '%s\n%s\n' "$go_min" "$have" | sort -V | head -n1)" != "$go_min" ]]; then
    export GOTOOLCHAIN="$go_toolchain"
    log "local Go $have is older than $go_min: using GOTOOLCHAIN=$GOTOOLCHAIN"
  fi
  # Static binaries, no C compiler needed; go.sum must not be rewritten.
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

# The wrapper's go.mod must pin the same version as this script.
check_pin() { # wrapper-dir module version
  grep -Eq "^(require )?[[:space:]]*$2 $3\$" "$wrappers/$1/go.mod" ||
    die "$wrappers/$1/go.mod does not require $2 $3 (update both together, then go mod tidy)"
}

# Directory of a module in the module cache, as resolved by a wrapper module.
module_dir() { # wrapper-dir module
  (cd "$wrappers/$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# go build into <component>-<version>/bin unless every binary is there and
# was built from the same wrapper module files and flags (bin/.source).
build() { # component version wrapper-dir ldflags "name=package"...
  local component="$1" version="$2" wrapper="$3" ldflags="$4"
  shift 4
  local out="$cache/$component-$version/bin" spec missing=0 source
  source="$( (cat "$wrappers/$wrapper"/*; echo "$ldflags $*") | sha256sum | cut -c1-16)"
  for spec in "$@"; do
    [[ -x "$out/${spec%%=*}" ]] || missing=1
  done
  if [[ "$missing" == 0 && "$(cat "$out/.source" 2>/dev/null)" == "$source" ]]; then
    log "$component $version: cached"
    return
  fi
  mkdir -p "$out"
  rm -f "$out/.source"
  for spec in "$@"; do
    local start=$SECONDS
    log "$component $version: building ${spec%%=*}"
    # Build to a temp name and rename, so an interrupted build is not cached.
    (cd "$wrappers/$wrapper" &&
      go build -trimpath -ldflags "-s -w $ldflags" -o "$out/.${spec%%=*}.tmp" "${spec#*=}")
    mv "$out/.${spec%%=*}.tmp" "$out/${spec%%=*}"
    log "$component $version: built ${spec%%=*} in $((SECONDS - start))s"
  done
  echo "$source" >"$out/.source"
}

# Copy files of a module into <component>-<version>/<dest> once.
copy_files() { # component version wrapper-dir module dest relative-path...
  local out="$cache/$1-$2/$5" dir f
  [[ -d "$out" ]] && return
  dir="$(module_dir "$3" "$4")"
  [[ -n "$dir" ]] || die "cannot resolve $4"
  shift 5
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  for f in "$@"; do
    [[ -e "$dir/$f" ]] || die "no $f in $dir"
    cp "$dir/$f" "$out.tmp/"
  done
  # The module cache is read-only; the copies need not be.
  chmod -R u+w "$out.tmp"
  mv "$out.tmp" "$out"
}

main() {
  ensure_go
  mkdir -p "$cache"
  # Concurrent runs (two control planes starting at once) take turns.
  exec 9>"$cache/.lock"
  flock 9

  check_pin kubernetes k8s.io/kubernetes "$kubernetes_version"
  check_pin etcd go.etcd.io/etcd/server/v3 "$etcd_version"
  check_pin kwok sigs.k8s.io/kwok "$kwok_version"
  check_pin cert-manager github.com/cert-manager/cert-manager "$cert_manager_version"
  check_pin trust-manager github.com/cert-manager/trust-manager "$trust_manager_version"
  check_pin cosign github.com/sigstore/cosign/v2 "$cosign_version"

  # Version strings the binaries report (k8s defaults to v0.0.0-master).
  local minor="${kubernetes_version#v1.}"
  minor="${minor%%.*}"
  local k8s_ld="-X k8s.io/component-base/version.gitVersion=$kubernetes_version"
  k8s_ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  k8s_ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
  k8s_ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$kubernetes_version"
  k8s_ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

  build etcd "$etcd_version" etcd \
    "-X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_version}" \
    etcd=.
  build kubernetes "$kubernetes_version" kubernetes "$k8s_ld" \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
  build kwok "$kwok_version" kwok \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${kubernetes_version#v}" \
    kwok=sigs.k8s.io/kwok/cmd/kwok
  build cert-manager "$cert_manager_version" cert-manager \
    "-X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$cert_manager_version" \
    cert-manager-controller=.
  build trust-manager "$trust_manager_version" trust-manager "" \
    trust-manager=github.com/cert-manager/trust-manager/cmd/trust-manager
  # `cosign version` reports these; without them it says "devel".
  local cosign_ld="-X sigs.k8s.io/release-utils/version.gitVersion=$cosign_version"
  cosign_ld+=" -X sigs.k8s.io/release-utils/version.gitTreeState=clean"
  build cosign "$cosign_version" cosign "$cosign_ld" \
    cosign=github.com/sigstore/cosign/v2/cmd/cosign

  local c=deploy/crds
  copy_files cert-manager "$cert_manager_version" cert-manager \
    "github.com/cert-manager/cert-manager@$cert_manager_version" crds \
    $c/acme.cert-manager.io_challenges.yaml $c/acme.cert-manager.io_orders.yaml \
    $c/cert-manager.io_certificaterequests.yaml $c/cert-manager.io_certificates.yaml \
    $c/cert-manager.io_clusterissuers.yaml $c/cert-manager.io_issuers.yaml
  copy_files trust-manager "$trust_manager_version" trust-manager \
    "github.com/cert-manager/trust-manager@$trust_manager_version" crds \
    $c/trust.cert-manager.io_bundles.yaml $c/trust-manager.io_clusterbundles.yaml
  # kwok does nothing without Stage objects: its "fast" node and pod stages
  # (what kwokctl uses by default) make nodes Ready and pods Running/Ready.
  copy_files kwok "$kwok_version" kwok "sigs.k8s.io/kwok@$kwok_version" stages \
    kustomize/stage/node/fast/node-initialize.yaml \
    kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    kustomize/stage/pod/fast/pod-ready.yaml kustomize/stage/pod/fast/pod-complete.yaml \
    kustomize/stage/pod/fast/pod-delete.yaml

  # One bin dir of symlinks for the pinned versions (replaced atomically).
  local bin="$cache/bin" f
  rm -rf "$bin.tmp"
  mkdir -p "$bin.tmp"
  for f in "$cache/etcd-$etcd_version/bin/etcd" \
    "$cache/kubernetes-$kubernetes_version/bin/kube-apiserver" \
    "$cache/kubernetes-$kubernetes_version/bin/kube-controller-manager" \
    "$cache/kubernetes-$kubernetes_version/bin/kube-scheduler" \
    "$cache/kwok-$kwok_version/bin/kwok" \
    "$cache/cert-manager-$cert_manager_version/bin/cert-manager-controller" \
    "$cache/trust-manager-$trust_manager_version/bin/trust-manager" \
    "$cache/cosign-$cosign_version/bin/cosign"; do
    ln -s "$f" "$bin.tmp/"
  done
  rm -rf "$bin"
  mv "$bin.tmp" "$bin"

  local versions="kube-apiserver $kubernetes_version, kube-controller-manager $kubernetes_version, kube-scheduler $kubernetes_version, etcd $etcd_version, kwok $kwok_version, cert-manager $cert_manager_version, trust-manager $trust_manager_version"
  cat >"$cache/env.tmp" <<EOF
# Written by .ci/build-control-plane.sh; source it.
ROTOR_CP_BIN='$bin'
ROTOR_CP_CERT_MANAGER_CRDS='$cache/cert-manager-$cert_manager_version/crds'
ROTOR_CP_TRUST_MANAGER_CRDS='$cache/trust-manager-$trust_manager_version/crds'
ROTOR_CP_KWOK_STAGES='$cache/kwok-$kwok_version/stages'
ROTOR_CP_KUBERNETES_VERSION='$kubernetes_version'
ROTOR_CP_VERSIONS='$versions'
ROTOR_CP_COSIGN='$cache/cosign-$cosign_version/bin/cosign'
EOF
  mv "$cache/env.tmp" "$cache/env"

  log "linkerd: not built (the Go module proxy refuses github.com/linkerd/linkerd2)"
  echo "real control plane: $versions; Linkerd's identity and proxy injector: stand-ins (tests/e2e/linkerd.rs)"
  echo "signing: cosign $cosign_version (policy artifacts in the registry tests)"
  echo "$bin"
}

main "$@"
