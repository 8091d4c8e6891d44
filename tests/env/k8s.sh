#!/usr/bin/env bash
# Build and run a real Kubernetes control plane (etcd + kube-apiserver, plus
# kubectl) for kconnect tests. No kubelet, scheduler or controller-manager:
# Pods stay Pending unless the test harness acts as the kubelet.
#
#   tests/env/k8s.sh install             build etcd, kube-apiserver, kubectl from the Go module proxy (cached)
#   tests/env/k8s.sh start [STATE_DIR]   start etcd + apiserver (idempotent), prints KUBECONFIG=...
#   tests/env/k8s.sh stop [STATE_DIR]    stop both (TERM, then KILL after 20 s)
#   tests/env/k8s.sh status [STATE_DIR]  print running/stopped + server URL and kubeconfig
#   tests/env/k8s.sh kubectl ARGS...     the built kubectl, against the running apiserver
#   tests/env/k8s.sh assets              print KUBEBUILDER_ASSETS=<bin dir> (etcd, kube-apiserver, kubectl)
#
# stdout of `start` is exactly one line, KUBECONFIG=<state>/kubeconfig; Go
# build output and all diagnostics go to stderr. The kubeconfig embeds the CA
# and an admin client certificate (CN=kconnect-admin, O=system:masters).
# `start` wipes etcd's data and picks fresh ports unless KCONNECT_K8S_KEEP_DATA=1.
# Logs: <state>/etcd.log, <state>/apiserver.log (previous run: *.log.prev).
#
# Versions are pinned by the wrapper modules' go.mod files in tests/env/k8s/
# (k8s.io/kubernetes for kube-apiserver and kubectl, go.etcd.io/etcd/server/v3).
#
# Environment:
#   KCONNECT_CACHE        cache root   (default $HOME/.cache/kconnect-test); binaries in <root>/k8s-<version>/bin
#   KCONNECT_TEST_STATE   state root   (default /tmp/kconnect-test); cluster state in <root>/k8s
#   KCONNECT_K8S_STATE    explicit state dir (overrides the above; [STATE_DIR] args override this)
#   KCONNECT_K8S_KEEP_DATA=1  on start, keep etcd data and the old ports instead of wiping them
#   KCONNECT_K8S_START_TIMEOUT  seconds to wait for readiness (default 120)
#   GO                    go binary (default: go on PATH); GOMODCACHE/GOCACHE are Go's defaults
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SRC="$SCRIPT_DIR/k8s"
GO="${GO:-go}"

# Pinned versions come from the wrapper go.mod files (single source of truth).
K8S_VERSION=$(sed -n 's/^[[:space:]]*\(require[[:space:]]*\)\{0,1\}k8s\.io\/kubernetes \(v[0-9.]*\)$/\2/p' "$SRC/apiserver/go.mod" | head -n1)
ETCD_VERSION=$(sed -n 's/^[[:space:]]*\(require[[:space:]]*\)\{0,1\}go\.etcd\.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\2/p' "$SRC/etcd/go.mod" | head -n1)
[[ -n "$K8S_VERSION" && -n "$ETCD_VERSION" ]] || {
  printf '[k8s.sh] ERROR: cannot read pinned versions from %s/{apiserver,etcd}/go.mod\n' "$SRC" >&2; exit 1; }
# Bump to force a rebuild when the build recipe (flags) changes.
BUILD_REV=2

CACHE_ROOT="${KCONNECT_CACHE:-$HOME/.cache/kconnect-test}"
K8S_HOME="$CACHE_ROOT/k8s-${K8S_VERSION#v}"
BIN="$K8S_HOME/bin"
MARKER="$K8S_HOME/.installed"
DEFAULT_STATE="${KCONNECT_K8S_STATE:-${KCONNECT_TEST_STATE:-/tmp/kconnect-test}/k8s}"
START_TIMEOUT="${KCONNECT_K8S_START_TIMEOUT:-120}"
STOP_TIMEOUT=20

log() { printf '[k8s.sh] %s\n' "$*" >&2; }
die() { printf '[k8s.sh] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
since() { local d=$(( $(now_ms) - $1 )); printf '%d.%03d s' $((d / 1000)) $((d % 1000)); }

# --------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------

# Fingerprint of everything that determines the binaries: wrapper sources,
# go.mod/go.sum (hence every dependency version) and the build recipe.
source_fingerprint() {
  {
    echo "rev=$BUILD_REV k8s=$K8S_VERSION etcd=$ETCD_VERSION"
    cat "$SRC/apiserver/go.mod" "$SRC/apiserver/go.sum" "$SRC/apiserver/main.go" \
        "$SRC/apiserver/cmd/kubectl/main.go" \
        "$SRC/etcd/go.mod" "$SRC/etcd/go.sum" "$SRC/etcd/main.go"
  } | sha256sum | cut -d' ' -f1
}

installed_ok() {
  [[ -f "$MARKER" && -x "$BIN/etcd" && -x "$BIN/kube-apiserver" && -x "$BIN/kubectl" ]] || return 1
  grep -qxF "fingerprint=$(source_fingerprint)" "$MARKER"
}

go_build() {
  # go_build MODULE_DIR ARGS...: hermetic-ish build; output to stderr.
  local dir="$1"; shift
  (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
     "$GO" build -buildvcs=false -trimpath "$@") >&2
}

cmd_install() {
  installed_ok && return 0
  command -v "$GO" >/dev/null 2>&1 || die "go not found on PATH (needed once to build the control plane)"
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.install-k8s-${K8S_VERSION#v}.lock"
  flock 8
  if installed_ok; then exec 8>&-; return 0; fi   # another process won the race

  local t0 t1 tmp fp
  t0=$(now_ms)
  fp=$(source_fingerprint)
  log "building Kubernetes $K8S_VERSION (kube-apiserver, kubectl) and etcd $ETCD_VERSION into $BIN"
  log "($("$GO" version); CGO_ENABLED=0; a cold build takes a long while on few cores)"
  tmp="$K8S_HOME/bin.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT

  log "downloading modules (Go module proxy; cached in $("$GO" env GOMODCACHE))..."
  t1=$(now_ms)
  (cd "$SRC/etcd" && GOTOOLCHAIN=local "$GO" mod download) >&2 || die "go mod download failed for etcd"
  (cd "$SRC/apiserver" && GOTOOLCHAIN=local "$GO" mod download) >&2 || die "go mod download failed for kubernetes"
  log "modules ready in $(since "$t1")"

  log "building etcd $ETCD_VERSION..."
  t1=$(now_ms)
  go_build "$SRC/etcd" -ldflags "-s -w" -o "$tmp/etcd" . || die "etcd build failed"
  log "etcd built in $(since "$t1")"

  # Same -X flags as Kubernetes' hack/lib/version.sh, so /version and
  # `kubectl version` report the real release instead of v0.0.0-master.
  # The module proxy doesn't tell the git commit: gitCommit is left empty;
  # buildDate is the release's module timestamp (reproducible).
  local minor build_date ldflags="-s -w" pkg
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  build_date=$(cd "$SRC/apiserver" && GOTOOLCHAIN=local "$GO" list -m \
                 -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=${build_date:+ -X $pkg.buildDate=$build_date}"
  done
  log "building kube-apiserver and kubectl $K8S_VERSION (the long part)..."
  t1=$(now_ms)
  go_build "$SRC/apiserver" -ldflags "$ldflags" -o "$tmp/" . ./cmd/kubectl \
    || die "kube-apiserver/kubectl build failed"
  mv "$tmp/apiserver" "$tmp/kube-apiserver"
  log "kube-apiserver and kubectl built in $(since "$t1")"

  "$tmp/kube-apiserver" --version >&2 || die "built kube-apiserver does not run"
  "$tmp/etcd" --version >&2 || die "built etcd does not run"

  rm -rf "$BIN"
  mv "$tmp" "$BIN"
  trap - EXIT
  {
    echo "kubernetes=$K8S_VERSION"
    echo "etcd=$ETCD_VERSION"
    echo "go=$("$GO" env GOVERSION)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$(( ($(now_ms) - t0) / 1000 ))"
    echo "fingerprint=$fp"
  } >"$MARKER"
  log "installed in $(since "$t0"): $(ls "$BIN" | tr '\n' ' ')"
  exec 8>&-
}

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

port_serves() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Is TCP port $1 in use locally in any state (listen, time-wait, outgoing...)?
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htan 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$1\$"
  else
    port_serves "$1"
  fi
}

# A free loopback port below the Linux ephemeral range (32768+), so an
# outgoing connection can't grab it before the server binds it.
pick_port() {
  local p i x taken
  for i in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    taken=0
    for x in "$@"; do [[ "$p" == "$x" ]] && taken=1; done
    (( taken )) && continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free TCP port"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# find_pids STATE NAME: pids of processes whose argv[0] basename is NAME
# (etcd | kube-apiserver) and whose command line mentions STATE/.
find_pids() {
  local state="$1" name="$2" f pid argv0
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    argv0=$(tr '\0' '\n' 2>/dev/null <"$f" | head -n1) || continue
    [[ "${argv0##*/}" == "$name" ]] || continue
    tr '\0' '\n' 2>/dev/null <"$f" | grep -qF "$state/" || continue
    echo "$pid"
  done
}

# running_pid STATE NAME: the recorded pid, if still NAME for this state dir.
running_pid() {
  local state="$1" name="$2" pid argv0
  [[ -f "$state/$name.pid" ]] || return 1
  pid=$(cat "$state/$name.pid" 2>/dev/null || true)
  pid_alive "$pid" || return 1
  argv0=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n1) || return 1
  [[ "${argv0##*/}" == "$name" ]] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$state/" || return 1
  echo "$pid"
}

resolve_state() {
  local s="${1:-$DEFAULT_STATE}"
  mkdir -p "$s"
  (cd "$s" && pwd -P)
}

# Value of KEY from <state>/endpoints (written by start).
endpoint() {
  [[ -f "$1/endpoints" ]] && sed -n "s/^$2=//p" "$1/endpoints"
}

# curl the apiserver as the admin user: api_get STATE URL_PATH
api_get() {
  local state="$1" path="$2" url
  url=$(endpoint "$state" K8S_SERVER) || return 1
  [[ -n "$url" ]] || return 1
  curl -sS --max-time 5 --cacert "$state/pki/ca.crt" \
    --cert "$state/pki/admin.crt" --key "$state/pki/admin.key" "$url$path" 2>/dev/null
}

apiserver_ready() {
  [[ "$(api_get "$1" /readyz)" == ok ]]
}

# --------------------------------------------------------------------------
# PKI (openssl): CA, apiserver serving cert, admin client cert, SA key pair.
# Kept across restarts of the same state dir (no port in any certificate).
# --------------------------------------------------------------------------

ensure_pki() {
  local pki="$1/pki"
  if [[ -f "$pki/.complete" ]]; then return 0; fi
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  local t0; t0=$(now_ms)
  rm -rf "$pki"
  mkdir -p "$pki"
  chmod 700 "$pki"
  (
    cd "$pki"
    exec 2>openssl.log
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=kconnect-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"

    cat >serving.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver"
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile serving.ext

    cat >client.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=kconnect-admin"
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out admin.crt -days 3650 -extfile client.ext

    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    openssl pkey -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext ca.srl
  ) || { tail -n 20 "$pki/openssl.log" >&2 || true; die "certificate generation failed"; }
  chmod 600 "$pki"/*.key
  touch "$pki/.complete"
  log "generated CA, serving, admin client and service-account keys in $(since "$t0")"
}

write_kubeconfig() {
  local state="$1" server="$2" tmp="$1/kubeconfig.tmp.$$"
  b64() { base64 -w0 <"$1"; }
  cat >"$tmp" <<EOF
# generated by kconnect tests/env/k8s.sh (Kubernetes $K8S_VERSION test control plane)
apiVersion: v1
kind: Config
clusters:
- name: kconnect-test
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$state/pki/ca.crt")
users:
- name: kconnect-admin
  user:
    client-certificate-data: $(b64 "$state/pki/admin.crt")
    client-key-data: $(b64 "$state/pki/admin.key")
contexts:
- name: kconnect-test
  context:
    cluster: kconnect-test
    user: kconnect-admin
    namespace: default
current-context: kconnect-test
EOF
  chmod 600 "$tmp"
  mv -f "$tmp" "$state/kubeconfig"
}

# --------------------------------------------------------------------------
# start / stop / status
# --------------------------------------------------------------------------

# launch STATE NAME LOGFILE CMD...: detached (setsid, all fds redirected, the
# lock fd closed) so `$(k8s.sh start)` never hangs and Ctrl-C doesn't reach it.
# Prints the daemon's pid.
launch() {
  local state="$1" name="$2" logf="$3" pid i found
  shift 3
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.prev"
  setsid "$@" </dev/null >"$logf" 2>&1 9>&- 8>&- &
  pid=$!
  # setsid execs in place unless we are a process-group leader (job control
  # on), in which case it forks: then look the daemon up by its command line.
  for ((i = 0; i < 40; i++)); do
    found=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n1 || true)
    [[ "${found##*/}" == "$name" ]] && break
    found=$(find_pids "$state" "$name" | head -n1)
    if [[ -n "$found" ]]; then pid=$found; break; fi
    sleep 0.05
  done
  echo "$pid" >"$state/$name.pid"
  echo "$pid"
}

fail_start() {
  local state="$1" msg="$2" f
  for f in etcd.log apiserver.log; do
    [[ -s "$state/$f" ]] || continue
    log "last lines of $state/$f:"
    tail -n 30 "$state/$f" >&2 || true
  done
  stop_state "$state" || true
  die "$msg"
}

cmd_start() {
  local state t0 epid apid server cport pport aport
  state=$(resolve_state "${1:-}")

  exec 9>"$state/.lock"
  flock 9

  if epid=$(running_pid "$state" etcd) && apid=$(running_pid "$state" kube-apiserver) \
     && apiserver_ready "$state" && [[ -f "$state/kubeconfig" ]]; then
    log "already running (etcd pid $epid, kube-apiserver pid $apid, state $state)"
    echo "KUBECONFIG=$state/kubeconfig"
    exec 9>&-
    return 0
  fi
  # half-running, unhealthy or stray processes from this state dir
  stop_state "$state"

  cmd_install
  ensure_pki "$state"
  t0=$(now_ms)

  rm -f "$state/endpoints" "$state/kubeconfig"
  if [[ "${KCONNECT_K8S_KEEP_DATA:-0}" == 1 && -d "$state/etcd-data/member" && -f "$state/ports" ]]; then
    cport=$(sed -n 's/^ETCD_CLIENT_PORT=//p' "$state/ports")
    pport=$(sed -n 's/^ETCD_PEER_PORT=//p' "$state/ports")
    aport=$(sed -n 's/^APISERVER_PORT=//p' "$state/ports")
    if [[ -n "$cport" && -n "$pport" && -n "$aport" ]] \
       && ! port_in_use "$cport" && ! port_in_use "$pport" && ! port_in_use "$aport"; then
      log "keeping existing etcd data in $state/etcd-data (ports $cport/$pport/$aport)"
    else
      cport=""
    fi
  fi
  if [[ -z "${cport:-}" ]]; then
    rm -rf "$state/etcd-data"
    cport=$(pick_port)
    pport=$(pick_port "$cport")
    aport=$(pick_port "$cport" "$pport")
    printf 'ETCD_CLIENT_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' "$cport" "$pport" "$aport" >"$state/ports"
  fi
  server="https://127.0.0.1:$aport"

  log "starting etcd $ETCD_VERSION on 127.0.0.1:$cport (peer $pport), state $state"
  epid=$(launch "$state" etcd "$state/etcd.log" "$BIN/etcd" \
    --name=kconnect-test \
    --data-dir="$state/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$cport" \
    --advertise-client-urls="http://127.0.0.1:$cport" \
    --listen-peer-urls="http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls="http://127.0.0.1:$pport" \
    --initial-cluster="kconnect-test=http://127.0.0.1:$pport" \
    --initial-cluster-state=new \
    --unsafe-no-fsync \
    --log-level=warn)

  local deadline=$((SECONDS + START_TIMEOUT))
  until [[ "$(curl -s --max-time 2 "http://127.0.0.1:$cport/health" 2>/dev/null)" == *'"health":"true"'* ]]; do
    pid_alive "$epid" || fail_start "$state" "etcd exited during startup"
    (( SECONDS < deadline )) || fail_start "$state" "etcd not healthy after ${START_TIMEOUT}s"
    sleep 0.1
  done
  log "etcd healthy after $(since "$t0") (pid $epid)"

  # Flags follow controller-runtime's envtest. --endpoint-reconciler-type=none:
  # the apiserver only listens on loopback, and Endpoints may not hold a
  # loopback IP, so the default `lease` reconciler would log an error every
  # 10 s; nothing here reaches the API through the `kubernetes` Service anyway.
  # No controller-manager runs, hence no ServiceAccount admission (it would
  # wait for token controllers) and no namespace/GC/SA controllers.
  log "starting kube-apiserver $K8S_VERSION on $server"
  apid=$(launch "$state" kube-apiserver "$state/apiserver.log" "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$cport" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="$aport" \
    --tls-cert-file="$state/pki/apiserver.crt" \
    --tls-private-key-file="$state/pki/apiserver.key" \
    --client-ca-file="$state/pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$state/pki/sa.pub" \
    --service-account-signing-key-file="$state/pki/sa.key" \
    --authorization-mode=RBAC \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount \
    --profiling=false \
    --v=1)
  printf 'K8S_SERVER=%s\nETCD_ENDPOINT=%s\nKUBECONFIG=%s\n' \
    "$server" "http://127.0.0.1:$cport" "$state/kubeconfig" >"$state/endpoints"

  # /readyz (as admin: anonymous access needs the RBAC bootstrap policy), then
  # the `default` namespace, which the system-namespaces controller creates
  # right after startup, so tests can use it at once.
  until apiserver_ready "$state" && api_get "$state" /api/v1/namespaces/default | grep -Eq '"phase": *"Active"'; do
    pid_alive "$apid" || fail_start "$state" "kube-apiserver exited during startup"
    pid_alive "$epid" || fail_start "$state" "etcd exited during startup"
    (( SECONDS < deadline )) || fail_start "$state" "kube-apiserver not ready after ${START_TIMEOUT}s"
    sleep 0.2
  done
  write_kubeconfig "$state" "$server"
  log "ready in $(since "$t0") (etcd pid $epid, kube-apiserver pid $apid, $server)"
  echo "KUBECONFIG=$state/kubeconfig"
  exec 9>&-
}

# stop_pids LABEL PIDS...: TERM; a second TERM after 5 s (both etcd and
# kube-apiserver exit at once on a second signal: an apiserver whose etcd is
# gone hangs in graceful shutdown otherwise); KILL after STOP_TIMEOUT.
stop_pids() {
  local label="$1" pid i alive
  shift
  (( $# )) || return 0
  log "stopping $label (pid $*)"
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    alive=0
    for pid in "$@"; do pid_alive "$pid" && alive=1; done
    (( alive )) || return 0
    if (( i == 50 )); then
      log "$label still running after 5 s, sending a second SIGTERM"
      kill -TERM "$@" 2>/dev/null || true
    fi
    sleep 0.1
  done
  for pid in "$@"; do
    if pid_alive "$pid"; then
      log "$label pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "$@"; do pid_alive "$pid" && alive=1; done
    (( alive )) || return 0
    sleep 0.1
  done
}

# stop without taking the lock (callers hold it). apiserver first: if etcd
# goes first, the apiserver's graceful shutdown hangs retrying etcd.
stop_state() {
  local state="$1" name pids
  for name in kube-apiserver etcd; do
    # shellcheck disable=SC2207
    pids=($( { running_pid "$state" "$name" || true; find_pids "$state" "$name"; } | sort -u))
    stop_pids "$name" "${pids[@]}"
    rm -f "$state/$name.pid"
  done
  rm -f "$state/endpoints"
}

cmd_stop() {
  local state
  state=$(resolve_state "${1:-}")
  exec 9>"$state/.lock"
  flock 9
  stop_state "$state"
  log "stopped"
  exec 9>&-
}

cmd_status() {
  local state epid apid
  state=$(resolve_state "${1:-}")
  epid=$(running_pid "$state" etcd || find_pids "$state" etcd | head -n1)
  apid=$(running_pid "$state" kube-apiserver || find_pids "$state" kube-apiserver | head -n1)
  if [[ -n "$epid" && -n "$apid" ]] && apiserver_ready "$state"; then
    echo "running etcd=$epid kube-apiserver=$apid K8S_SERVER=$(endpoint "$state" K8S_SERVER) KUBECONFIG=$state/kubeconfig"
  elif [[ -n "$epid" || -n "$apid" ]]; then
    echo "starting etcd=${epid:--} kube-apiserver=${apid:--}"
  else
    echo "stopped"
    return 3
  fi
}

cmd_kubectl() {
  local state
  state=$(resolve_state "")
  [[ -x "$BIN/kubectl" ]] || die "kubectl not built (run: $0 install)"
  [[ -f "$state/kubeconfig" ]] || die "no kubeconfig in $state (run: $0 start)"
  KUBECONFIG="$state/kubeconfig" exec "$BIN/kubectl" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
}

main() {
  local sub="${1:-}"
  (( $# )) && shift
  case "$sub" in
    install) cmd_install ;;
    start)   cmd_start "$@" ;;
    stop)    cmd_stop "$@" ;;
    status)  cmd_status "$@" ;;
    kubectl) cmd_kubectl "$@" ;;
    assets)  cmd_install; echo "KUBEBUILDER_ASSETS=$BIN" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
