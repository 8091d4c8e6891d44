#!/usr/bin/env bash
# Build Helm v3 from the Go module proxy for kconnect's chart tests
# (charts/kconnect, tests/helm_chart.rs).
#
#   tests/env/helm.sh install        build helm (cached; a second call returns at once)
#   tests/env/helm.sh path           install if needed, print the binary's path (one line on stdout)
#   tests/env/helm.sh helm ARGS...   the built helm, with its own config/cache/data dirs
#
# helm is `go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION`: the module's
# own go.mod and go.sum pin every dependency. The ldflags are those of
# Helm's Makefile (version, and the Kubernetes version `helm template`
# assumes, taken from the k8s.io/client-go it is built with), so
# `helm version` reports the real release.
# Build output and all diagnostics go to stderr.
#
# Environment:
#   KCONNECT_CACHE   cache root (default $HOME/.cache/kconnect-test); binary in <root>/helm-<version>/bin/helm
#   GO               go binary (default: go on PATH); GOMODCACHE/GOCACHE are Go's defaults
set -euo pipefail

# The version on the module proxy (bump here; the next install rebuilds).
HELM_VERSION=v3.22.0
# Bump to force a rebuild when the build recipe (flags) changes.
BUILD_REV=1

GO="${GO:-go}"
CACHE_ROOT="${KCONNECT_CACHE:-$HOME/.cache/kconnect-test}"
HELM_HOME="$CACHE_ROOT/helm-${HELM_VERSION#v}"
BIN="$HELM_HOME/bin"
MARKER="$HELM_HOME/.installed"
FINGERPRINT="rev=$BUILD_REV helm=$HELM_VERSION"

log() { printf '[helm.sh] %s\n' "$*" >&2; }
die() { printf '[helm.sh] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
since() { local d=$(( $(now_ms) - $1 )); printf '%d.%03d s' $((d / 1000)) $((d % 1000)); }

installed_ok() {
  [[ -f "$MARKER" && -x "$BIN/helm" ]] || return 1
  grep -qxF "fingerprint=$FINGERPRINT" "$MARKER"
}

cmd_install() {
  installed_ok && return 0
  command -v "$GO" >/dev/null 2>&1 || die "go not found on PATH (needed once to build helm)"
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.install-helm-${HELM_VERSION#v}.lock"
  flock 8
  if installed_ok; then exec 8>&-; return 0; fi   # another process won the race

  local t0 t1 tmp gomod client_go major minor ldflags pkg
  t0=$(now_ms)
  log "building helm $HELM_VERSION into $BIN ($("$GO" version); CGO_ENABLED=0)"

  # The module's go.mod tells which client-go (hence Kubernetes minor) it
  # is built with, as `go list -m k8s.io/client-go` does in Helm's Makefile.
  t1=$(now_ms)
  gomod=$(cd / && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
            | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p') \
    || die "go mod download helm.sh/helm/v3@$HELM_VERSION failed"
  [[ -f "$gomod" ]] || die "no go.mod for helm.sh/helm/v3@$HELM_VERSION"
  client_go=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go \(v[0-9.]*\)$/\1/p' "$gomod" | head -n1)
  [[ -n "$client_go" ]] || die "cannot read the k8s.io/client-go version from $gomod"
  major=${client_go#v}; major=$(( ${major%%.*} + 1 ))
  minor=${client_go#v*.}; minor=${minor%%.*}
  log "module downloaded in $(since "$t1") (k8s.io/client-go $client_go: Kubernetes $major.$minor)"

  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done

  tmp="$HELM_HOME/bin.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  log "building helm (dependencies from the Go module proxy, cached in $("$GO" env GOMODCACHE))..."
  t1=$(now_ms)
  (cd / && CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$tmp" GOFLAGS=-buildvcs=false \
     "$GO" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2 \
    || die "helm build failed"
  log "helm built in $(since "$t1")"
  "$tmp/helm" version >&2 || die "built helm does not run"

  rm -rf "$BIN"
  mv "$tmp" "$BIN"
  trap - EXIT
  {
    echo "helm=$HELM_VERSION"
    echo "client-go=$client_go"
    echo "go=$("$GO" env GOVERSION)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$(( ($(now_ms) - t0) / 1000 ))"
    echo "fingerprint=$FINGERPRINT"
  } >"$MARKER"
  log "installed in $(since "$t0"): $BIN/helm"
  exec 8>&-
}

# helm keeps repositories, plugins and caches in per-user folders; the tests
# need none of them, so they live beside the binary and never touch ~/.config.
cmd_helm() {
  cmd_install
  HELM_CONFIG_HOME="$HELM_HOME/config" HELM_CACHE_HOME="$HELM_HOME/cache" \
    HELM_DATA_HOME="$HELM_HOME/data" exec "$BIN/helm" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
}

main() {
  local sub="${1:-}"
  (( $# )) && shift
  case "$sub" in
    install) cmd_install ;;
    path)    cmd_install; echo "$BIN/helm" ;;
    helm)    cmd_helm "$@" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
