#!/usr/bin/env bash
# Checks the Helm chart, the Dockerfile and the alerts. Installs its tools
# (.ci/install-chart-tools.sh, into target/tools/), needs no cluster and no
# Docker daemon, and takes well under a minute once the tools are there.
#
#   1. helm lint (defaults and every CI value set)
#   2. helm template for each charts/rotor/ci/*-values.yaml, then
#      - every manifest against the Kubernetes (kubernetes-validate, strict;
#        1.31, 1.33 and 1.37) and CRD schemas (charts/rotor/ci/schemas/crds/)
#      - every pod spec against the restricted Pod Security Standard
#      - what each value set must render (assert_rendered.py)
#   3. NOTES.txt renders; the packaged chart leaves the CI files out
#   4. unknown values keys and bad values fail `helm template`; an OCI
#      policy without a digest fails with a message naming the value
#   5. the validators reject known-bad manifests (they can fail)
#   6. the previous-anchor bootstrap script, run against a stand-in kubectl
#   7. promtool check + unit tests of the alerts (when promtool is present);
#      every alert has a runbook section
#   8. hadolint Dockerfile; shellcheck of these scripts and of the rendered
#      bootstrap hook; the Dockerfile still runs the build steps that
#      .ci/image-build-steps.sh runs outside Docker
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

chart=charts/rotor
checks="$chart/ci/checks"
out=target/chart-checks
kube_version=1.33.0
release=rotor
namespace=rotor-system

bin="$(bash .ci/install-chart-tools.sh)"
export PATH="$bin:$PATH"
py="$(dirname "$bin")/venv/bin/python"

rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'chart-checks: %s\n' "$*" >&2; exit 1; }

render() { # render NAME [helm args...]
  local name="$1"
  shift
  helm template "$release" "$chart" --namespace "$namespace" \
    --kube-version "$kube_version" "$@" >"$out/$name.yaml"
}

step "helm lint"
helm lint --strict "$chart" --kube-version "$kube_version"
for values in "$chart"/ci/*-values.yaml; do
  helm lint --strict "$chart" --kube-version "$kube_version" -f "$values" --quiet
done

step "helm template per value set"
value_sets=()
for values in "$chart"/ci/*-values.yaml; do
  name="$(basename "$values" .yaml)"
  extra=()
  # The alerts need the prometheus-operator API; the other sets are rendered
  # as on a cluster without it.
  if [[ "$name" == monitoring-values ]]; then
    extra=(--api-versions monitoring.coreos.com/v1)
    render "$name.no-api" -f "$values"
  fi
  render "$name" -f "$values" "${extra[@]}"
  value_sets+=("$out/$name.yaml")
  echo "$name: $(grep -c '^kind: ' "$out/$name.yaml") manifests"
done
[[ ${#value_sets[@]} -ge 4 ]] || fail "expected at least 4 value sets in $chart/ci, found ${#value_sets[@]}"

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion), the one
# rotor is built against, and the newest kubernetes-validate knows.
for version in 1.31 "${kube_version%.*}" 1.37; do
  step "schemas: Kubernetes $version + CRDs"
  "$py" "$checks/validate_manifests.py" --kube-version "$version" \
    --crds "$chart/ci/schemas/crds" "${value_sets[@]}"
done

step "restricted Pod Security Standard"
"$py" "$checks/restricted_profile.py" "${value_sets[@]}"

step "rendered content per value set"
"$py" "$checks/assert_rendered.py" "$out"

step "NOTES.txt and package"
# A client-side dry run renders NOTES.txt without a cluster.
KUBECONFIG=/dev/null helm install "$release" "$chart" --namespace "$namespace" --dry-run=client >"$out/install-dry-run.txt"
for want in "create job --from=cronjob/$release" '"suspend":true' "cronJob.dryRun=true" "rotor plan"; do
  grep -qF -- "$want" "$out/install-dry-run.txt" || fail "NOTES.txt does not mention: $want"
done
echo "NOTES.txt: run now, pause, dry run and plan"
helm package "$chart" --destination "$out" >/dev/null
if tar -tzf "$out"/rotor-*.tgz | grep -qE '/ci/(checks|schemas)/'; then
  fail "the packaged chart carries ci/checks or ci/schemas; see charts/rotor/.helmignore"
fi
echo "package: $(tar -tzf "$out"/rotor-*.tgz | wc -l) files, CI checks left out"

step "unknown values keys and bad values fail"
unknown=(
  "unknownTopLevel=1"
  "cronJob.schedul=0 3 * * *"
  "certificates.trustAnchor.durationn=1h"
  "rbac.scope=Clusterwide"
  "policy.source=url"
  "grants.verbs[0]=delete-everything"
  "certificates.trustAnchor.privateKey.size=2048"
  "cronJob.schedule=CRON_TZ=Europe/Berlin 0 3 * * *"
  "policy.oci.verification.threshold=0"
  "policy.oci.plainHttpRegistries[0]=http://mirror:5000"
  "policy.unowned.ownerKinds.Job=argo-rollouts"
  "policy.unowned.ownerKinds.Rollout=strimzi"
  "policy.unowned.ownerKinds.Deployment=delete-pods"
  "policy.unowned.barePods=keep"
  "stagedAnchor.nextCertificate=Linkerd_Next"
  "grants.writeIssuers[0]=linkerd-identity-issuer"
  "multicluster.role=mesh"
  "multicluster.clusters[0].name=East"
)
for setting in "${unknown[@]}"; do
  if helm template "$release" "$chart" --namespace "$namespace" --set "$setting" >/dev/null 2>"$out/unknown.err"; then
    fail "helm template accepted --set $setting; values.schema.json must reject it"
  fi
  grep -q "values don't meet the specifications of the schema\|additional properties\|value must be one of\|at '/" "$out/unknown.err" \
    || { cat "$out/unknown.err" >&2; fail "--set $setting failed, but not on the values schema"; }
  echo "rejected: --set $setting"
done
if helm template "$release" "$chart" --set bundle.writer=rotor >/dev/null 2>"$out/writer.err"; then
  fail "bundle.writer=rotor with the Bundle still rendered was accepted"
fi
grep -qF "at '/bundle/enabled'" "$out/writer.err" || { cat "$out/writer.err" >&2; fail "bundle.writer=rotor with bundle.enabled failed, but not on the schema"; }
echo "rejected: bundle.writer=rotor with bundle.enabled true"
if helm template "$release" "$chart" --set policy.source=configMap --set policy.configMap.wasmBase64=AGFzbQ0AAQA= >/dev/null 2>&1; then
  fail "a site policy without policy.sha256 was accepted"
fi
echo "rejected: a site policy without policy.sha256"
# An OCI policy runs by digest only. The schema refuses a tag alone; past the
# schema (--skip-schema-validation) the template refuses it, naming the value.
digest=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
for ref in "oci://registry.example.com/rotor-policy:v1" "registry.example.com/rotor-policy@sha256:$digest"; do
  for skip in "" --skip-schema-validation; do
    if helm template "$release" "$chart" ${skip:+"$skip"} --set policy.source=oci --set "policy.oci.reference=$ref" >/dev/null 2>"$out/oci.err"; then
      fail "helm template ${skip:+$skip }accepted policy.oci.reference=$ref"
    fi
    want="must be oci://HOST/REPO@sha256:DIGEST"
    [[ -n "$skip" ]] || want="at '/policy/oci/reference'"
    grep -qF -- "$want" "$out/oci.err" || { cat "$out/oci.err" >&2; fail "policy.oci.reference=$ref failed, but not with: $want"; }
  done
  echo "rejected: policy.oci.reference=$ref (schema, then template)"
done
if helm template "$release" "$chart" --set policy.source=oci >/dev/null 2>"$out/oci.err"; then
  fail "an OCI policy without policy.oci.reference was accepted"
fi
echo "rejected: policy.source=oci without a reference"
# A management install lists its clusters with exactly one home.
if helm template "$release" "$chart" --set multicluster.role=management \
    --set 'multicluster.clusters[0].name=east' --set 'multicluster.clusters[0].kubeconfigSecret.name=east' \
    >/dev/null 2>"$out/clusters.err"; then
  fail "a management install without a home cluster was accepted"
fi
grep -qF "exactly one home: true (found 0)" "$out/clusters.err" || { cat "$out/clusters.err" >&2; fail "a management install without a home failed, but not naming the home"; }
echo "rejected: multicluster.role=management without a home cluster"
KUBECONFIG=/dev/null helm install "$release" "$chart" --namespace "$namespace" --dry-run=client \
  --set policy.source=oci --set "policy.oci.reference=oci://registry.example.com/rotor-policy@sha256:$digest" >"$out/oci-unverified.txt"
grep -qF "WARNING: policy.oci.verification lists no keys" "$out/oci-unverified.txt" \
  || fail "NOTES.txt does not warn about an OCI policy without verification keys"
echo "NOTES.txt: warns about an OCI policy without verification keys"

step "validators reject known-bad manifests"
# Each fixture names, in its `# expect:` line, the problem it must be refused for.
reject() { # reject CHECK FIXTURE COMMAND...
  local what="$1" bad="$2" expect
  shift 2
  expect="$(sed -n 's/^# expect: //p' "$bad")"
  [[ -n "$expect" ]] || fail "$bad has no '# expect:' line"
  if "$@" "$bad" >"$out/fixture.out" 2>&1; then
    fail "$what accepted $bad"
  fi
  grep -qF -- "$expect" "$out/fixture.out" \
    || { cat "$out/fixture.out" >&2; fail "$what refused $bad, but not for: $expect"; }
  echo "rejected by the $what: $(basename "$bad")"
}
for bad in "$checks"/fixtures/invalid-*.yaml; do
  reject "schema check" "$bad" "$py" "$checks/validate_manifests.py" \
    --kube-version "${kube_version%.*}" --crds "$chart/ci/schemas/crds"
done
for bad in "$checks"/fixtures/unrestricted-*.yaml; do
  reject "restricted check" "$bad" "$py" "$checks/restricted_profile.py"
done

step "previous-anchor bootstrap script"
render bootstrap-timeout --set previousAnchor.bootstrap.timeoutSeconds=10
PYTHON="$py" bash "$checks/bootstrap_script_test.sh" "$out/bootstrap-timeout.yaml"

step "alerts"
if command -v promtool >/dev/null 2>&1; then
  "$py" - "$out/monitoring-values.yaml" "$out/rotor-rules.yaml" <<'PY'
import sys, yaml
rules = [d["spec"] for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "PrometheusRule"]
assert len(rules) == 1, "monitoring-values must render one PrometheusRule"
yaml.safe_dump(rules[0], open(sys.argv[2], "w"), sort_keys=False)
PY
  cp "$checks/alerts.test.yaml" "$out/alerts.test.yaml"
  # Every alert links to a section of the runbook.
  while read -r alert; do
    grep -qx "## $alert" docs/runbook.md || fail "docs/runbook.md has no section '## $alert'"
  done < <(sed -n 's/^ *- alert: //p' "$out/rotor-rules.yaml")
  promtool check rules "$out/rotor-rules.yaml"
  promtool test rules "$out/alerts.test.yaml"
else
  echo "promtool not found: alert unit tests skipped (Debian package prometheus)"
fi

step "Dockerfile and scripts"
hadolint Dockerfile
# The scripts of the checks, and the bootstrap script as the chart renders it.
"$py" - "$out/default-values.yaml" "$out/bootstrap.sh" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Job" and d["metadata"]["name"].endswith("-bootstrap"):
        open(sys.argv[2], "w").write("#!/bin/bash\n" + d["spec"]["template"]["spec"]["containers"][0]["args"][0])
PY
shellcheck .ci/chart-checks.sh .ci/install-chart-tools.sh .ci/image-build-steps.sh \
  "$checks/bootstrap_script_test.sh" "$out/bootstrap.sh"
echo "shellcheck: chart scripts and the rendered bootstrap script are clean"
bash .ci/image-build-steps.sh --check

step "summary"
for file in "${value_sets[@]}"; do
  printf '%-40s %3d manifests\n' "$(basename "$file" .yaml)" "$(grep -c '^kind: ' "$file")"
done
echo "chart-checks: all passed"
