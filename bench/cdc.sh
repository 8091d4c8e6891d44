#!/usr/bin/env bash
# PostgreSQL CDC: kconnect against Debezium on Java Connect (see bench/README.md).
#
#   bench/cdc.sh              1 000 000 inserts, 3 runs per system → bench/results/postgres-cdc
#   bench/cdc.sh --quick      100 000 inserts, 1 run each → $KCONNECT_BENCH_STATE/quick-results-cdc
#   bench/cdc.sh --help       every flag
#
# Builds target/release/kconnect and the bench_raw example (its `watch`
# follows the topics), starts (or reuses) a broker and PostgreSQL under
# $KCONNECT_BENCH_STATE (default /tmp/kconnect-bench), installs Java Connect
# and Debezium's plugin (cached), then runs bench/cdc.py.
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in
  *" --help "*|*" -h "*) exec python3 bench/cdc.py --help ;;
esac
cargo build --release --bin kconnect --example bench_raw >&2
exec python3 bench/cdc.py "$@"
