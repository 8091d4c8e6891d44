#!/usr/bin/env bash
# Quickstart: file -> Kafka -> file in standalone mode on the embedded
# in-memory Kafka. Builds kconnect, streams examples/quickstart/input.txt
# through topic "connect-test" into target/quickstart/output.txt, stops.
set -euo pipefail
cd "$(dirname "$0")/../.."

out_dir=target/quickstart
input=examples/quickstart/input.txt
output=$out_dir/output.txt

echo "Building kconnect (release; the first build takes a few minutes)..." >&2
cargo build --release --quiet

rm -rf "$out_dir"
mkdir -p "$out_dir"
./target/release/kconnect standalone \
  examples/quickstart/worker.properties \
  examples/quickstart/file-source.properties \
  examples/quickstart/file-sink.properties \
  2>"$out_dir/kconnect.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT

want=$(wc -l <"$input")
for _ in $(seq 1 600); do
  have=0; [ -f "$output" ] && have=$(wc -l <"$output")
  [ "$have" -ge "$want" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "kconnect stopped early; see $out_dir/kconnect.log" >&2; tail -20 "$out_dir/kconnect.log" >&2; exit 1; }
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

grep -q "EMBEDDED IN-MEMORY Kafka" "$out_dir/kconnect.log" || { echo "expected the embedded-Kafka notice in the log" >&2; exit 1; }
if cmp -s "$input" "$output"; then
  echo "kconnect quickstart: $want lines from $input went through topic connect-test on the embedded in-memory Kafka"
  echo "Output written to $output (log: $out_dir/kconnect.log, source offsets: $out_dir/connect.offsets)"
  head -3 "$output" | sed 's/^/  | /'
else
  echo "output $output does not match $input; see $out_dir/kconnect.log" >&2
  exit 1
fi
