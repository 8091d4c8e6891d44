#!/usr/bin/env bash
# The whole test suite: lint, unit, property and end-to-end tests against a
# real Kafka broker, plus the quickstart. Installs and starts what it needs
# (Kafka jars from Maven Central, cached under ~/.cache/kconnect-test) and
# stops it again, also when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "tests/run.sh: '$1' is required ($2)" >&2; exit 1; }
}
need cargo "Rust toolchain"
need java "Java 17 runs the Kafka broker"
need mvn "Maven fetches the Kafka jars"
need go "Go builds kube-apiserver, kubectl and etcd from the Go module proxy"
need openssl "certificates for the test kube-apiserver"

# A one-shot build gains nothing from incremental caches, which cost
# gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "disk: $(df -h . | awk 'NR==2 { print $4 " free of " $2 }')" >&2

step "build dependencies: OpenSSL and libcurl for librdkafka's TLS, SASL and OIDC"
bash tests/env/build-deps.sh

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "JsonConverter vectors still match Apache Kafka's JsonConverter"
bash tests/vectors/jsonconverter/gen.sh
git diff --exit-code -- tests/vectors/jsonconverter/ || {
  echo "vectors.json differs from what the Java JsonConverter produces (see diff above)" >&2
  exit 1
}

step "test environment: Kafka broker (KRaft), Kubernetes control plane (etcd + kube-apiserver), PostgreSQL, Schema Registry"
export KCONNECT_TEST_STATE="${KCONNECT_TEST_STATE:-$(mktemp -d /tmp/kconnect-test.XXXXXX)}"
leftovers() {
  # Processes started for this run (pods of the kubelet stand-in run in
  # folders under the state dir; brokers name it on their command line).
  local pids=()
  for p in /proc/[0-9]*; do
    local pid=${p#/proc/}
    [ "$pid" = "$$" ] && continue
    if readlink "$p/cwd" 2>/dev/null | grep -q "^$KCONNECT_TEST_STATE" ||
       tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "$KCONNECT_TEST_STATE/"; then
      pids+=("$pid")
    fi
  done
  echo "${pids[@]:-}"
}
cleanup() {
  local rc=$?
  bash tests/env/kafka.sh stop >/dev/null 2>&1 || true
  bash tests/env/k8s.sh stop >/dev/null 2>&1 || true
  bash tests/env/registry.sh stop >/dev/null 2>&1 || true
  bash tests/env/postgres.sh stop >/dev/null 2>&1 || true
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "tests/run.sh: leftover processes after the run: $left" >&2
    ps -o pid,args -p "${left// /,}" >&2 || true
    kill -9 $left 2>/dev/null || true
    [ $rc -eq 0 ] && rc=1
  fi
  exit $rc
}
trap cleanup EXIT INT TERM
bootstrap_line=$(bash tests/env/kafka.sh start)
export KAFKA_BOOTSTRAP="${bootstrap_line#KAFKA_BOOTSTRAP=}"
echo "Kafka at $KAFKA_BOOTSTRAP" >&2
bash tests/env/k8s.sh install
# helm for the chart tests (tests/helm_chart.rs, tests/examples_e2e.rs), built from the Go module proxy
bash tests/env/helm.sh install
kubeconfig_line=$(bash tests/env/k8s.sh start)
export KCONNECT_TEST_KUBECONFIG="${kubeconfig_line#KUBECONFIG=}"
echo "kube-apiserver kubeconfig at $KCONNECT_TEST_KUBECONFIG" >&2
# PostgreSQL 15 (Debian's packages) for the CDC connector's tests.
pg_lines=$(bash tests/env/postgres.sh start)
while IFS='=' read -r key value; do
  [ -n "$key" ] && export "$key=$value"
done <<<"$pg_lines"
echo "PostgreSQL at $POSTGRES_HOST:$POSTGRES_PORT" >&2
registry_line=$(bash tests/env/registry.sh start)
export SCHEMA_REGISTRY_URL="${registry_line#SCHEMA_REGISTRY_URL=}"
echo "Schema Registry (Apicurio, Confluent API) at $SCHEMA_REGISTRY_URL" >&2

step "cargo test (unit, property and end-to-end tests)"
test_log="$KCONNECT_TEST_STATE/cargo-test.log"
cargo test --workspace -- --test-threads=2 2>&1 | tee "$test_log"
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$test_log")

step "quickstart"
bash examples/quickstart/run.sh

# One plain closing line for the whole run (quickstart counted as a test).
echo "tests: $((passed + 1)) passed, $failed failed"

