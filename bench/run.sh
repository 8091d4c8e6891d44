#!/usr/bin/env bash
# kconnect vs Apache Kafka Connect vs raw librdkafka (see bench/README.md).
#
#   bench/run.sh                 full run: 2 000 000 records × {100 B, 1 KiB}, 3 runs each,
#                                sink, source, transform path, placement bench
#   bench/run.sh --quick         smoke test: 100 000 records, 1 run each, results in
#                                $KCONNECT_BENCH_STATE/quick-results
#   bench/run.sh --help          all flags (--records, --sizes, --reps, --scenarios, --systems …)
#
# Builds target/release/kconnect and the bench_raw example, starts (or reuses)
# a KRaft broker with tests/env/kafka.sh under $KCONNECT_BENCH_STATE (default
# /tmp/kconnect-bench), installs Java Connect's jars, then runs bench/bench.py.
# The broker is left running for the next run: `KCONNECT_TEST_STATE=/tmp/kconnect-bench
# tests/env/kafka.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in
  *" --help "*|*" -h "*) exec python3 bench/bench.py --help ;;
esac
cargo build --release --bin kconnect --example bench_raw >&2
exec python3 bench/bench.py "$@"
