#!/usr/bin/env bash
# Runs the previous-anchor bootstrap script, exactly as the chart renders it,
# against a stand-in kubectl that keeps Secrets as JSON files.
#
#   bootstrap_script_test.sh RENDERED.yaml   (rendered with
#                                             previousAnchor.bootstrap.timeoutSeconds=10)
# Needs bash, jq and python3 with PyYAML. Prints "N passed, N failed".
set -euo pipefail

rendered="$1"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The script from the bootstrap Job's container args.
"$python" - "$rendered" >"$work/bootstrap.sh" <<'PY'
import sys, yaml
jobs = [d for d in yaml.safe_load_all(open(sys.argv[1]))
        if d and d["kind"] == "Job" and d["metadata"]["name"].endswith("-bootstrap")]
assert len(jobs) == 1, "expected one bootstrap Job"
container = jobs[0]["spec"]["template"]["spec"]["containers"][0]
assert container["command"] == ["/bin/bash", "-c"]
print(container["args"][0])
PY

# Stand-in kubectl: Secrets live in $STATE/<ns>/<name>.json; every call is
# logged to $STATE/calls. $STATE/appear-after=N makes the anchor appear on
# the Nth poll; $STATE/race makes `create` answer AlreadyExists.
mkdir -p "$work/bin"
cat >"$work/bin/kubectl" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"$STATE/calls"
ns=""
if [[ "$1" == "-n" ]]; then ns="$2"; shift 2; fi
case "$1 $2" in
  "get secret")
    name="$3" output="$5" file="$STATE/$ns/$3.json"
    if [[ "$output" == jsonpath=* && -f "$STATE/appear-after" ]]; then
      left="$(cat "$STATE/appear-after")"
      if (( left <= 1 )); then
        mkdir -p "$STATE/$ns" && cp "$STATE/pending-anchor.json" "$file" && rm "$STATE/appear-after"
      else
        echo $((left - 1)) >"$STATE/appear-after"
      fi
    fi
    if [[ ! -f "$file" ]]; then
      echo "Error from server (NotFound): secrets \"$name\" not found" >&2
      exit 1
    fi
    case "$output" in
      name) echo "secret/$name" ;;
      json) cat "$file" ;;
      'jsonpath={.data.tls\.crt}') jq -j '.data["tls.crt"] // ""' "$file" ;;
      *) echo "stub kubectl: unexpected output $output" >&2; exit 2 ;;
    esac
    ;;
  "replace --force")
    obj="$(cat)"
    name="$(jq -r .metadata.name <<<"$obj")" ns="$(jq -r .metadata.namespace <<<"$obj")"
    [[ -f "$STATE/$ns/$name.json" ]] || { echo "Error from server (NotFound)" >&2; exit 1; }
    printf '%s' "$obj" >"$STATE/$ns/$name.json"
    echo "secret/$name replaced"
    ;;
  "create -f")
    obj="$(cat)"
    name="$(jq -r .metadata.name <<<"$obj")" ns="$(jq -r .metadata.namespace <<<"$obj")"
    if [[ -f "$STATE/race" || -f "$STATE/$ns/$name.json" ]]; then
      echo "Error from server (AlreadyExists): secrets \"$name\" already exists" >&2
      exit 1
    fi
    mkdir -p "$STATE/$ns" && printf '%s' "$obj" >"$STATE/$ns/$name.json"
    echo "secret/$name created"
    ;;
  *) echo "stub kubectl: unexpected call: $*" >&2; exit 2 ;;
esac
STUB
cat >"$work/bin/sleep" <<'STUB'
#!/usr/bin/env bash
# Polls go by in a second each; the script's deadline uses real time.
exec /bin/sleep 1
STUB
chmod +x "$work/bin/kubectl" "$work/bin/sleep"

anchor='{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",
  "metadata":{"name":"linkerd-trust-anchor","namespace":"cert-manager",
    "labels":{"controller.cert-manager.io/fao":"true"},
    "annotations":{"cert-manager.io/certificate-name":"linkerd-trust-anchor"},
    "resourceVersion":"42","uid":"0f0e"},
  "data":{"tls.crt":"QU5DSE9S","tls.key":"S0VZ","ca.crt":"QU5DSE9S"}}'
previous='{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",
  "metadata":{"name":"linkerd-previous-anchor","namespace":"cert-manager"},
  "data":{"tls.crt":"T0xE","tls.key":"T0xES0VZ","ca.crt":"T0xE"}}'

passed=0 failed=0
status=0
put() { printf '%s' "$2" >"$STATE/cert-manager/$1.json"; }
# run_script SETUP: fresh state, SETUP, then the script.
run_script() {
  export STATE="$work/state"
  rm -rf "$STATE" && mkdir -p "$STATE/cert-manager" && touch "$STATE/calls"
  "$1"
  set +e
  PATH="$work/bin:$PATH" bash "$work/bootstrap.sh" >"$work/out" 2>&1
  status=$?
  set -e
}
# verdict NAME CHECK: CHECK is a function that succeeds when all is well.
verdict() {
  if "$2"; then
    passed=$((passed + 1)); echo "ok   $1"
  else
    failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/     | /' "$work/out"
  fi
}
created() { jq -S . "$STATE/cert-manager/linkerd-previous-anchor.json"; }
expected_copy() {
  jq -S '{apiVersion, kind, metadata: {name: "linkerd-previous-anchor", namespace: "cert-manager"}, type: "Opaque", data: {"tls.crt": .data["tls.crt"]}}' <<<"$anchor"
}
certificate_only='{"apiVersion":"v1","kind":"Secret","type":"Opaque",
  "metadata":{"name":"linkerd-previous-anchor","namespace":"cert-manager"},
  "data":{"tls.crt":"T0xE"}}'
# The key as the stand-in stores it (base64 of "KEY" and "OLDKEY").
no_key_written() { ! grep -rq -e S0VZ -e T0xES0VZ "$STATE/cert-manager/linkerd-previous-anchor.json"; }

# 1. A certificate-only previous anchor is never touched, even when it differs.
both_exist() { put linkerd-trust-anchor "$anchor"; put linkerd-previous-anchor "$certificate_only"; }
left_unchanged() {
  [[ $status == 0 ]] && [[ "$(created)" == "$(jq -S . <<<"$certificate_only")" ]] \
    && ! grep -q -e '^create' -e '^replace' "$STATE/calls" && grep -q 'left unchanged' "$work/out"
}
run_script both_exist
verdict existing_previous_anchor_left_unchanged left_unchanged

# 2. Copies tls.crt only, as Opaque: no key, labels, annotations, uid or resourceVersion.
anchor_exists() { put linkerd-trust-anchor "$anchor"; }
copied() { [[ $status == 0 ]] && [[ "$(created)" == "$(expected_copy)" ]] && no_key_written; }
run_script anchor_exists
verdict copies_the_certificate_never_the_key copied

# 2a. An older copy holding the key (mid-rotation: the old anchor) keeps its
# certificate and loses the key.
old_copy() { put linkerd-trust-anchor "$anchor"; put linkerd-previous-anchor "$previous"; }
migrated() {
  [[ $status == 0 ]] && [[ "$(created)" == "$(jq -S . <<<"$certificate_only")" ]] \
    && grep -q '^replace --force' "$STATE/calls" && ! grep -q '^create' "$STATE/calls" && no_key_written
}
run_script old_copy
verdict key_holding_copy_keeps_its_certificate_and_loses_the_key migrated

# 3. Waits for cert-manager to issue the anchor.
anchor_later() { printf '%s' "$anchor" >"$STATE/pending-anchor.json"; echo 3 >"$STATE/appear-after"; }
copied_after_polls() { copied && [[ "$(grep -c 'jsonpath' "$STATE/calls")" -ge 3 ]]; }
run_script anchor_later
verdict waits_for_the_anchor copied_after_polls

# 4. Someone else created it between the check and the create: success, untouched.
create_races() { put linkerd-trust-anchor "$anchor"; touch "$STATE/race"; }
race_accepted() {
  [[ $status == 0 ]] && [[ ! -f "$STATE/cert-manager/linkerd-previous-anchor.json" ]] \
    && grep -q 'created concurrently' "$work/out"
}
run_script create_races
verdict concurrent_create_is_success race_accepted

# 5. No anchor within the timeout: fails, naming the Certificate to look at.
no_anchor() { :; }
gave_up() {
  [[ $status != 0 ]] && [[ ! -f "$STATE/cert-manager/linkerd-previous-anchor.json" ]] \
    && grep -q 'has no tls.crt after 10s: is cert-manager issuing certificate cert-manager/linkerd-trust-anchor' "$work/out"
}
run_script no_anchor
verdict gives_up_with_a_reason gave_up

echo "$passed passed, $failed failed"
[[ "$failed" == 0 ]]
