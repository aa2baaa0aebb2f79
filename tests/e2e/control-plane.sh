#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for rotor's end-to-end tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (fake
# nodes and kubelets), cert-manager's controller and trust-manager, each a
# local process built by .ci/build-control-plane.sh (run here; a warm cache
# makes that a few seconds).
#
#   tests/e2e/control-plane.sh up DIR                 start, wait until ready
#   tests/e2e/control-plane.sh down DIR               stop everything, keep logs
#   tests/e2e/control-plane.sh restart-apiserver DIR  same flags, new process
#
# DIR holds all state: pki/, etcd/, logs/<component>.log, pids/<component>.pid,
# cmd/<component>.args, audit.log (JSON lines, every request at Metadata
# level, ResponseComplete stage), admin.kubeconfig, env (KUBECONFIG=, ports,
# pids; `source DIR/env`).
#
# Ports: free ones picked at random on 127.0.0.1, or consecutive ones from
# ROTOR_CP_PORT_BASE, so two control planes can coexist. Other knobs:
# ROTOR_CP_NODES (fake nodes, default 2), ROTOR_CP_TIMEOUT (seconds per wait,
# default 180), ROTOR_CONTROL_PLANE_CACHE (see the build script), KUBECTL.
#
# Nothing here is Linkerd: the Go module proxy does not serve
# github.com/linkerd/linkerd2 (see .ci/build-control-plane.sh), so Linkerd's
# charts, identity controller and proxy-injector are not available.
#
# Addresses: pods get kwok-assigned IPs from 198.18.0.0/16 and Services
# ClusterIPs from 198.19.0.0/16 (benchmarking ranges, never routed). Nothing
# here dials them: no webhook or APIService is backed by a Service (the
# trust-manager webhook is called by URL on 127.0.0.1), and kwok's nodes
# advertise 127.0.0.1 as their address.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
timeout_s="${ROTOR_CP_TIMEOUT:-180}"
nodes="${ROTOR_CP_NODES:-2}"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok cert-manager trust-manager)

log() { printf 'control-plane: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# openssl and curl (PKI, health probes) from Debian when missing.
ensure_packages() {
  local missing=() p
  for p in openssl curl; do
    command -v "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [[ ${#missing[@]} == 0 ]] && return
  [[ "$(id -u)" == 0 ]] || die "missing ${missing[*]} and not root to install them"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# kubectl: $KUBECTL, else PATH, else the repo's chart tools (installs it).
ensure_kubectl() {
  if [[ -n "${KUBECTL:-}" ]]; then
    return
  elif command -v kubectl >/dev/null 2>&1; then
    KUBECTL="$(command -v kubectl)"
  else
    KUBECTL="$(bash "$root/.ci/install-chart-tools.sh" | tail -n1)/kubectl"
  fi
}

# Sources the build's env file (ROTOR_CP_BIN, CRD and stage dirs).
ensure_binaries() {
  local cache="${ROTOR_CONTROL_PLANE_CACHE:-$HOME/.cache/rotor/control-plane}"
  bash "$root/.ci/build-control-plane.sh" >&2
  # shellcheck source=/dev/null
  source "$cache/env"
}

k() { "$KUBECTL" --kubeconfig="$dir/admin.kubeconfig" "$@"; }

# Polls a command until it succeeds or $timeout_s passes.
wait_for() { # what command...
  local what="$1" deadline=$((SECONDS + timeout_s))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      die "timed out after ${timeout_s}s waiting for $what (logs: $dir/logs)"
    fi
    sleep 0.5
  done
}

# --- ports ------------------------------------------------------------------

port_in_use() { (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Set by pick_port in cmd_up.
etcd_port="" etcd_peer_port="" api_port="" kcm_port="" scheduler_port="" kwok_port=""
tm_webhook_port="" tm_ready_port="" tm_metrics_port=""
picked=" "
pick_port() { # variable
  local p
  if [[ -n "${ROTOR_CP_PORT_BASE:-}" ]]; then
    p=$((ROTOR_CP_PORT_BASE + $(wc -w <<<"$picked")))
    port_in_use "$p" && die "port $p (from ROTOR_CP_PORT_BASE) is in use"
  else
    while :; do
      p=$((20000 + RANDOM % 12000))
      [[ "$picked" != *" $p "* ]] && ! port_in_use "$p" && break
    done
  fi
  picked+="$p "
  printf -v "$1" '%s' "$p"
}

# --- PKI (openssl) ----------------------------------------------------------

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# Signs pki/NAME.crt with the cluster CA.
sign() { # name subject extensions
  local pki="$dir/pki"
  new_key "$pki/$1.key"
  openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 365 -out "$pki/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$pki/$1.csr"
}

client_cert() { # name CN [O]
  local subj="/CN=$2"
  [[ -n "${3:-}" ]] && subj="/O=$3$subj"
  sign "$1" "$subj" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
}

make_pki() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  new_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=rotor-e2e-ca" -days 3650 -out "$pki/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:198.19.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # trust-manager's webhook, called by the apiserver at https://127.0.0.1.
  sign trust-manager-webhook "/CN=trust-manager" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
  mkdir -p "$pki/trust-manager-tls"
  cp "$pki/trust-manager-webhook.crt" "$pki/trust-manager-tls/tls.crt"
  cp "$pki/trust-manager-webhook.key" "$pki/trust-manager-tls/tls.key"
  # One identity per component, so the audit log tells them apart. The
  # controller-manager and scheduler get their built-in RBAC names; the
  # others are cluster admins like their Helm charts' broad ClusterRoles.
  client_cert admin rotor-admin system:masters
  # Front-proxy (requestheader) client, as kubeadm sets up: without it the
  # controller-manager and scheduler log a missing CA bundle every few seconds.
  client_cert front-proxy-client front-proxy-client
  client_cert kube-controller-manager system:kube-controller-manager
  client_cert kube-scheduler system:kube-scheduler
  client_cert kwok kwok system:masters
  client_cert cert-manager cert-manager system:masters
  client_cert trust-manager trust-manager system:masters
  # ServiceAccount token signing key (TokenRequest, projected tokens).
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
}

kubeconfig() { # name -> DIR/NAME.kubeconfig with pki/NAME.{crt,key}
  cat >"$dir/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rotor-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 <"$dir/pki/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 <"$dir/pki/$1.crt")
    client-key-data: $(base64 -w0 <"$dir/pki/$1.key")
contexts:
- name: rotor-e2e
  context:
    cluster: rotor-e2e
    user: $1
current-context: rotor-e2e
EOF
  chmod 600 "$dir/$1.kubeconfig"
}

# --- processes --------------------------------------------------------------

# Starts NAME in its own session (it outlives this script), args saved for
# restart-apiserver, output in logs/NAME.log.
start() { # name binary args...
  local name="$1"
  shift
  printf '%s\n' "$@" >"$dir/cmd/$name.args"
  launch "$name"
}

launch() { # name (from cmd/NAME.args)
  local name="$1" args=()
  mapfile -t args <"$dir/cmd/$name.args"
  setsid "${args[@]}" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

alive() { [[ -f "$dir/pids/$1.pid" ]] && kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null; }

# Waits for a command, failing early when NAME's process has exited.
wait_component() { # name what command...
  local name="$1" what="$2" deadline=$((SECONDS + timeout_s))
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$name" || die "$name exited while waiting for $what; last log lines:
$(tail -n 20 "$dir/logs/$name.log")"
    ((SECONDS > deadline)) && die "timed out after ${timeout_s}s waiting for $what (log: $dir/logs/$name.log)"
    sleep 0.5
  done
}

stop() { # name: TERM, then KILL after 15s
  local name="$1" pid i
  [[ -f "$dir/pids/$name.pid" ]] || return 0
  pid="$(cat "$dir/pids/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$dir/pids/$name.pid"
}

# --- readiness probes -------------------------------------------------------

etcd_healthy() { curl -fsS "http://127.0.0.1:$etcd_port/health" | grep -q '"health":"true"'; }
apiserver_ready() { [[ "$(k get --raw /readyz 2>/dev/null)" == ok ]]; }
lease_held() { [[ -n "$(k -n "$1" get lease "$2" -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null)" ]]; }
default_sa() { k -n default get serviceaccount default; }
nodes_ready() {
  local n
  for ((n = 0; n < nodes; n++)); do
    [[ "$(k get node "rotor-node-$n" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] || return 1
  done
}
http_ok() { curl -fsS -o /dev/null "$1"; }
cert_ready() { [[ "$(k -n "$1" get certificate "$2" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
configmap_exists() { k -n "$1" get configmap "$2"; }

# --- up ---------------------------------------------------------------------

write_static_files() {
  cat >"$dir/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
# One JSON line per request (at ResponseComplete; RequestReceived omitted).
omitStages: [RequestReceived]
rules:
  - level: Metadata
EOF
  # kwok's "fast" stages: nodes initialise and heartbeat with Leases, pods
  # become Running/Ready once bound, and complete/delete like a kubelet.
  local f
  for f in "$ROTOR_CP_KWOK_STAGES"/*.yaml; do
    printf -- '---\n'
    cat "$f"
    echo
  done >"$dir/kwok.yaml"
}

start_etcd() {
  start etcd "$ROTOR_CP_BIN/etcd" --name=rotor-e2e --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="rotor-e2e=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level=warn
  wait_component etcd "etcd /health" etcd_healthy
}

# --endpoint-reconciler-type=none: the default/kubernetes Endpoints may not
# hold a loopback address (the apiserver would log an error every 10s), and
# nothing in this cluster dials it.
start_apiserver() {
  local pki="$dir/pki"
  start kube-apiserver "$ROTOR_CP_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=198.19.0.0/16 \
    --authorization-mode=Node,RBAC \
    --audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$dir/audit.log" \
    --audit-log-format=json --audit-log-maxsize=0 \
    --allow-privileged=true --profiling=false \
    --kubelet-preferred-address-types=InternalIP \
    --endpoint-reconciler-type=none \
    --cert-dir="$pki/apiserver-generated"
  wait_component kube-apiserver "kube-apiserver /readyz" apiserver_ready
}

# Both exit when they cannot renew their Lease (no kubelet restarts them
# here): a 45s renew deadline lets them ride out restart-apiserver.
start_controllers() {
  local pki="$dir/pki" c
  local lease_flags=(--leader-elect-lease-duration=60s --leader-elect-renew-deadline=45s --leader-elect-retry-period=2s)
  for c in kube-controller-manager kube-scheduler; do
    kubeconfig "$c"
  done
  start kube-controller-manager "$ROTOR_CP_BIN/kube-controller-manager" \
    --kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" \
    --leader-elect=true "${lease_flags[@]}" --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --cluster-name=rotor-e2e --controllers='*' \
    --cert-dir="$pki/kcm-generated"
  start kube-scheduler "$ROTOR_CP_BIN/kube-scheduler" \
    --kubeconfig="$dir/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$scheduler_port" --leader-elect=true "${lease_flags[@]}" \
    --cert-dir="$pki/scheduler-generated"
  wait_component kube-controller-manager "the kube-controller-manager Lease" lease_held kube-system kube-controller-manager
  wait_component kube-scheduler "the kube-scheduler Lease" lease_held kube-system kube-scheduler
  wait_component kube-controller-manager "ServiceAccount default/default" default_sa
}

start_kwok() {
  local n
  kubeconfig kwok
  start kwok "$ROTOR_CP_BIN/kwok" --kubeconfig="$dir/kwok.kubeconfig" --config="$dir/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=198.18.0.1/16 --node-ip=127.0.0.1 --node-port="$kwok_port" \
    --server-address="127.0.0.1:$kwok_port" --node-lease-duration-seconds=40
  for ((n = 0; n < nodes; n++)); do
    k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: rotor-node-$n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: rotor-node-$n
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  done
  wait_component kwok "$nodes Ready node(s)" nodes_ready
}

start_cert_manager() {
  k apply --server-side -f "$ROTOR_CP_CERT_MANAGER_CRDS" >/dev/null
  k apply --server-side -f "$ROTOR_CP_TRUST_MANAGER_CRDS" >/dev/null
  # kubectl wait fails at once on a CRD the API server has not yet given
  # status conditions ("accessor error: <nil>"), so poll it instead.
  wait_for "the CRDs Established" k wait --for=condition=Established --timeout=5s crd --all
  k create namespace cert-manager --dry-run=client -o yaml | k apply -f - >/dev/null
  kubeconfig cert-manager
  kubeconfig trust-manager
  start cert-manager "$ROTOR_CP_BIN/cert-manager-controller" --kubeconfig="$dir/cert-manager.kubeconfig" \
    --cluster-resource-namespace=cert-manager --leader-election-namespace=kube-system
  # trust-manager always serves its validating webhook; it gets a serving
  # cert for 127.0.0.1. Leader election is off: controller-runtime cannot
  # find a Lease namespace outside a pod and trust-manager has no flag for it.
  start trust-manager "$ROTOR_CP_BIN/trust-manager" --kubeconfig="$dir/trust-manager.kubeconfig" \
    --trust-namespace=cert-manager --leader-elect=false \
    --webhook-host=127.0.0.1 --webhook-port="$tm_webhook_port" \
    --webhook-certificate-dir="$dir/pki/trust-manager-tls" \
    --readiness-probe-port="$tm_ready_port" --metrics-port="$tm_metrics_port" \
    --secret-targets-enabled=true
  wait_component cert-manager "the cert-manager-controller Lease" lease_held kube-system cert-manager-controller
  wait_component trust-manager "trust-manager /readyz" http_ok "http://127.0.0.1:$tm_ready_port/readyz"
  # The chart's ValidatingWebhookConfiguration, pointed at the process.
  k apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: trust-manager
webhooks:
  - name: trust.cert-manager.io
    rules:
      - apiGroups: [trust.cert-manager.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [bundles]
    admissionReviewVersions: [v1]
    timeoutSeconds: 5
    failurePolicy: Fail
    sideEffects: None
    clientConfig:
      url: https://127.0.0.1:$tm_webhook_port/validate-trust-cert-manager-io-v1alpha1-bundle
      caBundle: $(base64 -w0 <"$dir/pki/ca.crt")
EOF
}

# Proves the chain works end to end once: self-signed Issuer -> Certificate
# Ready -> trust-manager Bundle (through the webhook) -> ConfigMap in a
# labelled namespace; then removes it all (the namespace controller and the
# garbage collector do the rest in the background).
smoke_test() {
  k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: rotor-cp-smoke
  labels: {rotor-cp-smoke: "true"}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: rotor-cp-smoke, namespace: cert-manager}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: rotor-cp-smoke, namespace: cert-manager}
spec:
  isCA: true
  commonName: rotor-cp-smoke
  secretName: rotor-cp-smoke
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: rotor-cp-smoke, kind: Issuer}
EOF
  wait_component cert-manager "smoke Certificate Ready" cert_ready cert-manager rotor-cp-smoke
  k apply -f - >/dev/null <<'EOF'
apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: rotor-cp-smoke}
spec:
  sources:
    - secret: {name: rotor-cp-smoke, key: tls.crt}
  target:
    configMap: {key: ca.crt}
    namespaceSelector:
      matchLabels: {rotor-cp-smoke: "true"}
EOF
  wait_component trust-manager "smoke Bundle ConfigMap" configmap_exists rotor-cp-smoke rotor-cp-smoke
  k delete bundle rotor-cp-smoke --wait=false >/dev/null
  k -n cert-manager delete certificate/rotor-cp-smoke issuer/rotor-cp-smoke secret/rotor-cp-smoke --wait=false >/dev/null
  k delete namespace rotor-cp-smoke --wait=false >/dev/null
}

write_env() {
  local c
  {
    echo "# Written by tests/e2e/control-plane.sh up; source it."
    echo "export KUBECONFIG='$dir/admin.kubeconfig'"
    echo "ROTOR_CP_DIR='$dir'"
    echo "ROTOR_CP_API_SERVER='https://127.0.0.1:$api_port'"
    echo "ROTOR_CP_API_PORT=$api_port"
    echo "ROTOR_CP_ETCD_PORT=$etcd_port"
    echo "ROTOR_CP_ETCD_PEER_PORT=$etcd_peer_port"
    echo "ROTOR_CP_KCM_PORT=$kcm_port"
    echo "ROTOR_CP_SCHEDULER_PORT=$scheduler_port"
    echo "ROTOR_CP_KWOK_PORT=$kwok_port"
    echo "ROTOR_CP_TRUST_MANAGER_WEBHOOK_PORT=$tm_webhook_port"
    echo "ROTOR_CP_TRUST_MANAGER_READY_PORT=$tm_ready_port"
    echo "ROTOR_CP_TRUST_MANAGER_METRICS_PORT=$tm_metrics_port"
    echo "ROTOR_CP_AUDIT_LOG='$dir/audit.log'"
    echo "ROTOR_CP_CA_CERT='$dir/pki/ca.crt'"
    echo "ROTOR_CP_NODES=$nodes"
    echo "ROTOR_CP_VERSIONS='$ROTOR_CP_VERSIONS'"
    echo "KUBECTL='$KUBECTL'"
    for c in "${components[@]}"; do
      printf 'ROTOR_CP_PID_%s=%s\n' "$(tr 'a-z-' 'A-Z_' <<<"$c")" "$(cat "$dir/pids/$c.pid")"
    done
  } >"$dir/env"
}

cmd_up() {
  local began=$SECONDS c
  for c in "${components[@]}"; do
    alive "$c" && die "$c is already running from $dir (run down first)"
  done
  ensure_packages
  ensure_kubectl
  ensure_binaries
  rm -rf "$dir/etcd" "$dir/pki" "$dir/pids" "$dir/cmd"
  mkdir -p "$dir/logs" "$dir/pids" "$dir/cmd"
  pick_port etcd_port
  pick_port etcd_peer_port
  pick_port api_port
  pick_port kcm_port
  pick_port scheduler_port
  pick_port kwok_port
  pick_port tm_webhook_port
  pick_port tm_ready_port
  pick_port tm_metrics_port
  # Whatever fails below (die exits, set -e) leaves no stray processes.
  trap 'up_failed' EXIT
  make_pki
  kubeconfig admin
  write_static_files
  log "etcd on 127.0.0.1:$etcd_port"
  start_etcd
  log "kube-apiserver on https://127.0.0.1:$api_port"
  start_apiserver
  log "controller-manager and scheduler"
  start_controllers
  log "kwok with $nodes node(s)"
  start_kwok
  log "cert-manager and trust-manager"
  start_cert_manager
  smoke_test
  write_env
  trap - EXIT
  log "ready in $((SECONDS - began))s: source $dir/env  (${ROTOR_CP_VERSIONS})"
}

up_failed() {
  log "up failed; stopping what was started (logs kept in $dir/logs)"
  cmd_down
}

cmd_down() {
  local i
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    stop "${components[i]}"
  done
}

cmd_restart_apiserver() {
  [[ -f "$dir/cmd/kube-apiserver.args" ]] || die "no control plane in $dir"
  ensure_kubectl
  local began=$SECONDS
  stop kube-apiserver
  log "kube-apiserver stopped in $((SECONDS - began))s"
  launch kube-apiserver
  wait_component kube-apiserver "kube-apiserver /readyz" apiserver_ready
  sed -i "s/^ROTOR_CP_PID_KUBE_APISERVER=.*/ROTOR_CP_PID_KUBE_APISERVER=$(cat "$dir/pids/kube-apiserver.pid")/" "$dir/env"
  log "kube-apiserver restarted (pid $(cat "$dir/pids/kube-apiserver.pid"))"
}

[[ $# == 2 ]] || usage
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
case "$1" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart-apiserver) cmd_restart_apiserver ;;
  *) usage ;;
esac
