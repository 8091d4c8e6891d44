#!/usr/bin/env bash
# Exactly-once sources (KIP-618): kconnect's FileStream source with
# exactly.once.source.support=enabled against at-least-once, and against
# Apache Kafka Connect 4.1.2 distributed with exactly-once (see
# bench/README.md, "Exactly-once sources").
#
#   bench/eos.sh              500 000 lines × {100 B, 1 KiB}, 3 runs per system
#                             → bench/results/eos
#   bench/eos.sh --quick      100 000 lines, 1 run each → $KCONNECT_BENCH_STATE/quick-results-eos
#   bench/eos.sh --help       every flag (--records, --reps, --systems, --sizes …)
#
# Builds target/release/kconnect and the bench_raw example (topic admin,
# progress, read-back), starts (or reuses) a KRaft broker under
# $KCONNECT_BENCH_STATE (default /tmp/kconnect-bench), installs Java
# Connect's jars (cached), then runs bench/eos.py.
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in
  *" --help "*|*" -h "*) exec python3 bench/eos.py --help ;;
esac
cargo build --release --bin kconnect --example bench_raw >&2
exec python3 bench/eos.py "$@"
