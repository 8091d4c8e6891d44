#!/usr/bin/env bash
# The JDBC sink into PostgreSQL: kconnect against Debezium's JDBC sink on
# Java Connect and against the database's own limit (see bench/README.md).
#
#   bench/jdbc.sh              500 000 rows, upsert and insert, 3 runs per
#                              system → bench/results/jdbc-sink
#   bench/jdbc.sh --quick      50 000 rows, 1 run each → $KCONNECT_BENCH_STATE/quick-results-jdbc
#   bench/jdbc.sh --help       every flag
#
# Builds target/release/kconnect and the bench_raw (topic loading) and
# bench_pg (progress, limit) examples, starts (or reuses) a broker and
# PostgreSQL under $KCONNECT_BENCH_STATE (default /tmp/kconnect-bench),
# installs Java Connect and Debezium's JDBC sink (cached), then runs
# bench/jdbc.py.
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in
  *" --help "*|*" -h "*) exec python3 bench/jdbc.py --help ;;
esac
cargo build --release --bin kconnect --example bench_raw --example bench_pg >&2
exec python3 bench/jdbc.py "$@"
