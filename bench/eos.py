#!/usr/bin/env python3
"""Exactly-once source delivery (KIP-618): the FileStream source with
exactly-once against at-least-once, in kconnect (standalone) and in Apache
Kafka Connect 4.1.2 (distributed: Java's standalone mode has no
exactly-once), on one real KRaft broker.

Run through bench/eos.sh (which builds the binaries first); see
bench/README.md ("Exactly-once sources") for the method. Only the Python 3
standard library is used; the FileStream bench's helpers (bench.py) do the
measuring.

A run: FileStreamSourceConnector (1 task, StringConverter) reads N lines
of 100 B or 1 KiB into a fresh 1-partition topic. Progress is the topic's
last stable offset, as a read_committed reader sees it (`bench_raw watch`:
librdkafka's ListOffsets is read_committed). With transactions the offsets
also hold one commit marker per transaction, so the run is complete when
the last stable offset reaches its final value N + markers: sampling goes
on after N until the offset has not moved for --settle seconds, and the run
ends at the first sample that showed the final value. After the run a
read_committed consumer (`bench_raw sink`) reads the topic back and must
find exactly the input's N lines (no loss, no duplicate), which is what
makes final - N the number of transactions.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402  (the FileStream bench's helpers)

# name: (worker, exactly-once, transaction.boundary)
SYSTEMS = {
    "kconnect-alo": ("kconnect", False, None),
    "kconnect-eos": ("kconnect", True, "poll"),
    "kconnect-eos-interval": ("kconnect", True, "interval"),
    "java-eos": ("java", True, "poll"),
    "java-alo": ("java", False, None),
    "java-eos-interval": ("java", True, "interval"),
}
DEFAULT_SYSTEMS = ("kconnect-alo,kconnect-eos,kconnect-eos-interval,java-eos,java-alo,"
                   "java-eos-interval")
NEVER = 10**15  # the watcher's target: it runs until stopped
OFFSET_PARTITIONS = "25"  # offset.storage.partitions, both workers (both default to 25)


class EosBench(b.Bench):
    def __init__(self, args):
        args.work_dir = args.work
        args.security = "plaintext"
        super().__init__(args)

    # -- configs -----------------------------------------------------------

    def configs(self, system, run_dir, run_id, topic, path, batch=None):
        """(worker props, connector config) of one run; `batch` overrides
        the connector's batch.size (lines per poll)."""
        a = self.args
        kind, eos, boundary = SYSTEMS[system]
        worker = self.worker_props(kind, run_dir, False)
        connector = {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": "1",
            "file": path,
            "topic": topic,
        }
        if batch:
            connector["batch.size"] = str(batch)
        if eos:
            worker["exactly.once.source.support"] = "enabled"
            connector["exactly.once.support"] = "required"
            connector["transaction.boundary"] = boundary
            if boundary == "interval":
                connector["transaction.boundary.interval.ms"] = str(a.interval_ms)
        if kind == "java":
            # Distributed: the offsets, configs and status in topics of
            # this run's own, a group of its own.
            del worker["offset.storage.file.filename"]
            worker.update({
                "group.id": run_id,
                "config.storage.topic": f"{run_id}-configs",
                "offset.storage.topic": f"{run_id}-offsets",
                "status.storage.topic": f"{run_id}-status",
                "config.storage.replication.factor": "1",
                "offset.storage.replication.factor": "1",
                "status.storage.replication.factor": "1",
                "offset.storage.partitions": OFFSET_PARTITIONS,
                "rest.advertised.host.name": "127.0.0.1",
            })
        elif eos:
            # kconnect standalone with exactly-once keeps the source offsets
            # in a topic, so that tasks write them in their transactions.
            del worker["offset.storage.file.filename"]
            worker.update({
                "offset.storage.topic": f"{run_id}-offsets",
                "offset.storage.partitions": OFFSET_PARTITIONS,
                "offset.storage.replication.factor": "1",
            })
        return worker, connector

    def internal_topics(self, system, run_id):
        kind, eos, _ = SYSTEMS[system]
        if kind == "java":
            return [f"{run_id}-configs", f"{run_id}-offsets", f"{run_id}-status"]
        return [f"{run_id}-offsets"] if eos else []

    # -- one run -----------------------------------------------------------

    def launch_java_distributed(self, run_dir, worker, name, connector):
        """ConnectDistributed in the foreground (connect-java.sh execs the
        JVM), and a thread POSTing the connector to /connectors until the
        worker takes it. Returns (process, t0, thread state)."""
        wp = os.path.join(run_dir, "worker.properties")
        b.write_props(wp, worker)
        port = int(worker["listeners"].rsplit(":", 1)[1])
        env = dict(os.environ, KCONNECT_JAVA_CONNECT_STATE=os.path.join(run_dir, "java"),
                   KCONNECT_JAVA_LOG_LEVEL="WARN")
        logf = open(os.path.join(run_dir, "process.log"), "w")
        t0 = time.monotonic()
        p = subprocess.Popen(["bash", b.JAVA_SH, "distributed", wp], stdout=logf,
                             stderr=subprocess.STDOUT, env=env)
        state = {"stop": threading.Event(), "created_s": None, "last": None}
        body = json.dumps({"name": name, "config": connector}).encode()

        def post():
            while not state["stop"].is_set() and p.poll() is None:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/connectors", data=body,
                                             headers={"Content-Type": "application/json"},
                                             method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=30):
                        state["created_s"] = time.monotonic() - t0
                        return
                except urllib.error.HTTPError as e:
                    detail = e.read().decode(errors="replace")[:300]
                    if e.code == 409 and "already exists" in detail:
                        state["created_s"] = time.monotonic() - t0
                        return
                    state["last"] = f"HTTP {e.code}: {detail}"
                except OSError as e:  # refused while the REST server starts
                    state["last"] = str(e)
                state["stop"].wait(0.1)

        state["thread"] = threading.Thread(target=post, daemon=True)
        state["thread"].start()
        return p, t0, state

    def count_committed(self, topic, run_dir, data_bytes):
        """Reads the topic back with a read_committed consumer; returns the
        bytes of value + newline it got (the input file's size when every
        line is there exactly once)."""
        out = os.path.join(run_dir, "readback.txt")
        group = f"{os.path.basename(run_dir)}-readback-{time.time_ns()}"
        c = subprocess.Popen([b.RAW, "sink", self.bootstrap, topic, group, out,
                              "-X", "isolation.level=read_committed"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            size, still = -1, 0
            while time.monotonic() < deadline:
                time.sleep(0.2)
                now = os.path.getsize(out) if os.path.exists(out) else 0
                # Done when the file stops growing for 1 s after reaching
                # the input's size (more would be duplicates), or for 10 s.
                still = still + 1 if now == size else 0
                size = now
                if (size >= data_bytes and still >= 5) or still >= 50:
                    break
        finally:
            b.stop(c, 5)
        if os.path.exists(out):
            with open(out, "rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))
            os.remove(out)
        else:
            lines = 0
        return size, lines

    def run_one(self, scenario, system, rep, path, n, data_bytes, batch=None):
        a = self.args
        label = f"{scenario} {system} #{rep + 1}"
        kind, eos, boundary = SYSTEMS[system]
        run_dir = os.path.join(a.work, f"{scenario}-{system}-{rep}")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        run_id = f"eos-{scenario}-{system}-{rep}-{int(time.time())}"
        topic = run_id
        self.raw("create", self.bootstrap, topic, "1")
        worker, connector = self.configs(system, run_dir, run_id, topic, path, batch)

        samples = []
        watch, lso = b.watch_end_offset(self.bootstrap, topic, NEVER)

        def progress():
            v = lso()
            samples.append((time.monotonic(), v))
            return v

        post = None
        if kind == "java":
            p, t0, post = self.launch_java_distributed(run_dir, worker, run_id, connector)
        else:
            p, t0 = self.launch("kconnect", run_dir, worker, {"name": run_id, **connector}, [])
        try:
            m = self.measure(p, t0, progress, n, label)
            # Past N: the commit markers. Wait for the offset to settle;
            # the run ends where it first showed its final value. (Without
            # transactions N is the end: more would be duplicates, which
            # the read-back below finds.)
            final, t_final = samples[-1][1], samples[-1][0]
            while eos and time.monotonic() - t_final < a.settle:
                time.sleep(b.POLL)
                v = progress()
                if v != final:
                    final, t_final = v, samples[-1][0]
                    m["cpu_s"], m["peak_rss_mib"] = b.proc_usage(p.pid)
                if p.poll() is not None:
                    raise RuntimeError(f"{label}: process exited with {p.returncode}")
            m["elapsed_s"] = t_final - t0
        finally:
            if post:
                post["stop"].set()
            b.stop(p)
            b.stop(watch, 5)
        after = self.end_offset(topic)
        got_bytes, got_lines = self.count_committed(topic, run_dir, data_bytes)
        if got_lines != n or got_bytes != data_bytes:
            raise RuntimeError(f"{label}: read back {got_lines} records ({got_bytes} B) "
                               f"with read_committed, expected {n} ({data_bytes} B)")
        markers = final - n
        if after != final:
            # Something was committed after the settle window (or at stop).
            b.log(f"{label}: last stable offset {after} after the stop, {final} when the run "
                  f"was timed; the time may be short")
        if not eos and markers != 0:
            raise RuntimeError(f"{label}: end offset {final} for {n} records without transactions")
        self.raw("delete", self.bootstrap, topic, *self.internal_topics(system, run_id))
        m["output_bytes"] = data_bytes
        interval = boundary == "interval"
        if interval or m["steady_frac_per_s"] != m["steady_frac_per_s"]:  # NaN
            # Records become visible once per interval: no steady rate.
            m["steady_frac_per_s"] = 0.0
        self.record(scenario, system, rep, n, data_bytes, m)
        if scenario == "warmup":
            return
        row = self.rows[-1]
        if interval:
            row["steady_records_per_s"] = row["steady_mb_per_s"] = ""
        row["transactions"] = markers if eos else ""
        row["records_per_txn"] = round(n / markers) if eos and markers else ""
        row["connector_created_s"] = round(post["created_s"], 3) if post and post["created_s"] else ""
        row["batch_size"] = batch or 2000
        self.write_csv()
        if eos:
            b.log(f"{'':14} {system}: {markers} transactions, {n / max(markers, 1):.0f} records each")

    # -- the whole benchmark -----------------------------------------------

    def run(self):
        a = self.args
        os.makedirs(a.work, exist_ok=True)
        self.load_before = os.getloadavg()
        t_start = time.monotonic()
        self.start_broker()
        # Warm-up, not measured: page cache (binaries, jars), the broker's
        # transaction coordinator, one transactional producer of each kind.
        path = os.path.join(a.work, "data-warmup.txt")
        d = b.gen_plain(path, 20000, 100)
        for system in a.systems:
            self.run_one("warmup", system, 0, path, 20000, d)
        for size in a.sizes:
            path = os.path.join(a.work, f"data-{size}b-{a.records}.txt")
            b.log(f"generating {a.records} lines of {size} bytes")
            data_bytes = b.gen_plain(path, a.records, size)
            for rep in range(a.reps):
                # Alternate, and rotate who goes first.
                order = a.systems[rep % len(a.systems):] + a.systems[:rep % len(a.systems)]
                for system in order:
                    self.run_one(f"source-{size}b", system, rep, path, a.records, data_bytes)
        # Transaction size: the same runs with other batch.size values
        # (lines per poll = records per transaction with boundary=poll),
        # 100 B lines, at least 20 transactions per run.
        for batch in a.sweep_batches:
            n = max(a.sweep_records, 20 * batch)
            path = os.path.join(a.work, f"data-100b-{n}.txt")
            data_bytes = b.gen_plain(path, n, 100)
            for system in a.sweep_systems:
                self.run_one(f"sweep-batch{batch}", system, 0, path, n, data_bytes, batch)
        self.load_after = os.getloadavg()
        self.wall_s = time.monotonic() - t_start
        self.report()

    # -- report ------------------------------------------------------------

    def report(self):
        a = self.args
        os.makedirs(a.out, exist_ok=True)
        keys = ("elapsed_s", "startup_s", "records_per_s", "mb_per_s", "steady_records_per_s",
                "cpu_s", "peak_rss_mib")
        med, summary = {}, []
        for size in a.sizes:
            sc = f"source-{size}b"
            for system in a.systems:
                rs = [r for r in self.rows if r["scenario"] == sc and r["system"] == system]
                if not rs:
                    continue
                v = {}
                for k in (*keys, "transactions"):
                    xs = [r[k] for r in rs if r.get(k, "") != ""]
                    v[k] = statistics.median(xs) if xs else ""
                v["runs"] = len(rs)
                med[sc, system] = v
                summary.append({"scenario": sc, "system": system, **v})
        with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(summary[0].keys()))
            w.writeheader()
            w.writerows(summary)

        def ratio(sc, num, den, key):
            """Ratio of the medians, and the range of the per-round ratios
            (the runs of one round ran back to back)."""
            if (sc, num) not in med or (sc, den) not in med:
                return None
            if "" in (med[sc, num][key], med[sc, den][key]):
                return None
            r = med[sc, num][key] / med[sc, den][key]
            nums = {x["rep"]: x[key] for x in self.rows if x["scenario"] == sc and x["system"] == num}
            dens = {x["rep"]: x[key] for x in self.rows if x["scenario"] == sc and x["system"] == den}
            per = [nums[k] / dens[k] for k in nums if k in dens and dens[k]]
            return r, min(per), max(per)

        def fmt_ratio(x):
            if x is None:
                return "–"
            r, lo, hi = x
            return f"**{r:.2f}×** ({lo:.2f}–{hi:.2f})"

        mc = b.machine()
        L = [
            "# Exactly-once sources: kconnect vs Apache Kafka Connect 4.1.2",
            "",
            f"Generated by `bench/eos.sh{' ' + ' '.join(a.argv) if a.argv else ''}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {self.wall_s / 60:.1f} min. "
            "Method and settings: [bench/README.md](../../README.md#exactly-once-sources). "
            "Per-run rows: [results.csv](results.csv); medians: [summary.csv](summary.csv).",
            "",
            f"- {mc['cores']} cores ({mc['cpu']}), {mc['memory']}, Linux {mc['kernel']}; load "
            f"average (1/5/15 min) before {' / '.join(f'{x:.2f}' for x in self.load_before)}, "
            f"after {' / '.join(f'{x:.2f}' for x in self.load_after)}",
            f"- kconnect {mc['kconnect']} (release build, {mc['rustc']}; librdkafka 2.12.1), "
            "standalone",
            f"- Apache Kafka Connect 4.1.2, {mc['java']}, heap "
            f"`{os.environ.get('KCONNECT_JAVA_HEAP', '-Xms256m -Xmx1g')}`, G1, **distributed** "
            "(one worker; its standalone mode has no exactly-once)",
            "- broker: Apache Kafka 4.1.2, one KRaft node on loopback (`tests/env/kafka.sh`)",
            f"- FileStreamSourceConnector, 1 task, StringConverter, `batch.size` 2000 (lines per "
            f"poll); {a.records:,} lines of 100 B and of 1 KiB (+ newline) per run into a fresh "
            f"1-partition topic; {a.reps} runs per system, alternating",
            "- `alo`: at-least-once (`exactly.once.source.support` unset; kconnect keeps offsets in "
            "a file, Java in its offset topic, flushed every 1 s); `eos`: "
            "`exactly.once.source.support=enabled`, `exactly.once.support=required`, "
            "`transaction.boundary=poll`; `eos-interval`: `transaction.boundary=interval`, "
            f"`transaction.boundary.interval.ms={a.interval_ms}`",
            "",
            "`rec/s` is end to end: from process start until the last record is committed "
            "(visible to a read_committed consumer); for Java that includes JVM start, the group "
            "join and creating the connector over REST. `steady rec/s` is the rate between 10 % and "
            "90 % of the records (the topic's last stable offset sampled every 20 ms). CPU is "
            "user+system seconds of the worker process until the end; RSS its peak. `txns` is the "
            "number of transactions in the run (commit markers in the topic), `rec/txn` N / txns. "
            "Every run's topic was read back with a read_committed consumer: exactly N records, "
            "none lost or duplicated.",
            "",
            "## Results (medians)",
            "",
            "| size | system | runs | time s | startup s | rec/s | MB/s | steady rec/s | CPU s "
            "| peak RSS MiB | txns | rec/txn |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for s in summary:
            txn = s["transactions"]
            L.append(
                f"| {s['scenario'].split('-')[1]} | {s['system']} | {s['runs']} | "
                f"{s['elapsed_s']:.2f} | {s['startup_s']:.2f} | {b.fmt_int(s['records_per_s'])} | "
                f"{s['mb_per_s']:.1f} | {b.fmt_int(s['steady_records_per_s']) if s['steady_records_per_s'] != '' else '–'} | "
                f"{s['cpu_s']:.2f} | {s['peak_rss_mib']:.0f} | "
                f"{b.fmt_int(txn) if txn != '' else '–'} | "
                f"{b.fmt_int(a.records / txn) if txn else '–'} |")
        L += [
            "",
            "## Ratios",
            "",
            "Ratio of the medians; in brackets the lowest and highest ratio of the runs of one "
            "round (run back to back).",
            "",
            "| size | ratio | steady rec/s | rec/s (end to end) | CPU s |",
            "|---|---|--:|--:|--:|",
        ]
        pairs = [("kconnect-eos", "kconnect-alo", "kconnect EOS / kconnect ALO"),
                 ("kconnect-eos-interval", "kconnect-alo", "kconnect EOS interval / kconnect ALO"),
                 ("kconnect-eos", "java-eos", "kconnect EOS / Java EOS"),
                 ("kconnect-eos-interval", "java-eos-interval",
                  "kconnect EOS interval / Java EOS interval"),
                 ("kconnect-alo", "java-alo", "kconnect ALO / Java ALO (distributed)"),
                 ("java-eos", "java-alo", "Java EOS / Java ALO")]
        for size in a.sizes:
            sc = f"source-{size}b"
            for num, den, name in pairs:
                st = ratio(sc, num, den, "steady_records_per_s")
                if (sc, num) not in med or (sc, den) not in med:
                    continue
                L.append(f"| {size} B | {name} | {fmt_ratio(st)} | "
                         f"{fmt_ratio(ratio(sc, num, den, 'records_per_s'))} | "
                         f"{fmt_ratio(ratio(sc, num, den, 'cpu_s'))} |")
        L.append("")
        sweep = [r for r in self.rows if r["scenario"].startswith("sweep-")]
        if sweep:
            L += [
                "## Records per transaction",
                "",
                f"{' and '.join(a.sweep_systems)} (`transaction.boundary=poll`) on lines of 100 B "
                "with other `batch.size` values of the FileStream source (lines per poll, so "
                "records per transaction), one run each of at least "
                f"{a.sweep_records:,} lines and 20 transactions. `ms/txn` = batch.size / steady "
                "rate: the time one transaction of that size takes, end to end.",
                "",
                "| batch.size | lines | " + " | ".join(
                    f"{s} steady rec/s | {s} ms/txn" for s in a.sweep_systems) + " |",
                "|--:|--:|" + "--:|--:|" * len(a.sweep_systems),
            ]
            for batch in a.sweep_batches:
                got = {r["system"]: r for r in sweep if r["batch_size"] == batch}
                cells = []
                for system in a.sweep_systems:
                    r = got.get(system)
                    v = r["steady_records_per_s"] if r else ""
                    cells += [b.fmt_int(v), f"{1000 * batch / v:.1f}"] if v else ["–", "–"]
                n = next(iter(got.values()))["records"] if got else 0
                L.append(f"| {batch:,} | {n:,} | " + " | ".join(cells) + " |")
            L.append("")
        with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
            f.write("\n".join(L))
        b.log(f"results in {a.out} ({self.wall_s / 60:.1f} min)")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", "-n", type=int, default=500_000,
                   help="lines per run and size (default 500 000)")
    p.add_argument("--sizes", default="100,1024", help="line sizes in bytes (default 100,1024)")
    p.add_argument("--reps", type=int, default=3, help="runs per system and size (default 3)")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS,
                   help=f"of {', '.join(SYSTEMS)} (default {DEFAULT_SYSTEMS})")
    p.add_argument("--sweep-batches", default="500,2000,10000,50000",
                   help="batch.size values (records per transaction) of the extra kconnect-eos "
                        "and java-eos runs on 100 B lines (default 500,2000,10000,50000; "
                        "'' for none)")
    p.add_argument("--sweep-records", type=int, default=100_000,
                   help="lines of a batch.size run, at least (default 100 000; at least 20 "
                        "transactions)")
    p.add_argument("--sweep-systems", default="kconnect-eos",
                   help="systems of the batch.size runs (default kconnect-eos; java-eos is "
                        "slow to warm up on short runs)")
    p.add_argument("--interval-ms", type=int, default=1000,
                   help="transaction.boundary.interval.ms of the *-eos-interval systems (default 1000)")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds the last stable offset must stay put, past N, to end a run "
                        "(default 3; must exceed --interval-ms)")
    p.add_argument("--quick", action="store_true",
                   help="100 000 records, 1 run each, no batch.size runs")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    p.add_argument("--state", default=os.environ.get("KCONNECT_BENCH_STATE", "/tmp/kconnect-bench"),
                   help="broker state root (KCONNECT_TEST_STATE of kafka.sh)")
    p.add_argument("--out", default=None,
                   help="results directory (default bench/results/eos; --quick: STATE/quick-results-eos)")
    a = p.parse_args()
    a.argv = sys.argv[1:]
    if a.quick:
        a.records = 100_000 if "--records" not in sys.argv and "-n" not in sys.argv else a.records
        a.reps = 1 if "--reps" not in sys.argv else a.reps
        a.sweep_batches = a.sweep_batches if "--sweep-batches" in sys.argv else ""
    a.sizes = [int(s) for s in a.sizes.split(",") if s]
    a.sweep_batches = [int(s) for s in a.sweep_batches.split(",") if s]
    a.sweep_systems = [s for s in a.sweep_systems.split(",") if s]
    a.systems = [s for s in a.systems.split(",") if s]
    for s in a.systems + a.sweep_systems:
        if s not in SYSTEMS:
            sys.exit(f"--systems: {s!r} is not one of {', '.join(SYSTEMS)}")
    if a.settle * 1000 <= a.interval_ms:
        sys.exit("--settle must exceed --interval-ms")
    a.work = os.path.join(a.state, "work-eos")
    if a.out is None:
        a.out = (os.path.join(a.state, "quick-results-eos") if a.quick
                 else os.path.join(b.ROOT, "bench", "results", "eos"))
    for exe in (b.KCONNECT, b.RAW):
        if not os.path.exists(exe):
            sys.exit(f"{exe} missing: run bench/eos.sh (it builds it)")
    EosBench(a).run()


if __name__ == "__main__":
    main()
