#!/usr/bin/env python3
"""PostgreSQL change data capture: kconnect's PostgresConnector against
Debezium's (3.6.1, on Java Connect 4.1.2 standalone), same server, same
changes, same Kafka settings.

Run through bench/cdc.sh (which builds the binaries first); see
bench/README.md ("PostgreSQL CDC") for the method. Only the Python 3
standard library is used.

The load is written once, before any connector runs: every measured run
has its own logical replication slot, created before the load, so each
reads the same WAL (N single-row inserts committed in transactions of
--txn rows) from the same starting point. A run is the connector started
with no offsets and `snapshot.mode=no_data`, timed from process start until
its topic holds N records.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402  (the FileStream bench's helpers)

PG_SH = os.path.join(b.ROOT, "tests", "env", "postgres.sh")
DEBEZIUM_SH = os.path.join(b.ROOT, "tests", "env", "debezium.sh")
PSQL = "/usr/lib/postgresql/15/bin/psql"
DB = "cdc_bench"
PUBLICATION = "cdc_bench_pub"
SYSTEMS = ("kconnect", "java")


class CdcBench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.runs = []  # (round, system)

    # -- environment -------------------------------------------------------

    def start(self):
        a = self.args
        env = dict(os.environ, KCONNECT_TEST_STATE=a.state)
        out = b.sh("bash", b.KAFKA_SH, "start", env=env)
        self.bootstrap = out.strip().split("KAFKA_BOOTSTRAP=", 1)[1].split()[0]
        b.log(f"broker at {self.bootstrap}")
        out = b.sh("bash", PG_SH, "start", env=env)
        self.pg = dict(line.split("=", 1) for line in out.split() if "=" in line)
        b.log(f"PostgreSQL at {self.pg['POSTGRES_HOST']}:{self.pg['POSTGRES_PORT']}")
        subprocess.run(["bash", b.JAVA_SH, "install"], check=True)
        out = b.sh("bash", DEBEZIUM_SH, "install")
        self.plugin_path = out.strip().split("DEBEZIUM_PLUGIN_PATH=", 1)[1].split()[0]

    def psql(self, sql, db=DB, file=None):
        cmd = [PSQL, "-h", self.pg["POSTGRES_HOST"], "-p", self.pg["POSTGRES_PORT"],
               "-U", self.pg["POSTGRES_USER"], "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt"]
        cmd += ["-f", file] if file else ["-c", sql]
        env = dict(os.environ, PGPASSWORD=self.pg["POSTGRES_PASSWORD"])
        return subprocess.run(cmd, env=env, check=True, text=True,
                              stdout=subprocess.PIPE).stdout.strip()

    def prepare(self):
        """A fresh database and table, one slot per measured run, then the
        load."""
        a = self.args
        for row in self.psql("SELECT slot_name FROM pg_replication_slots "
                             "WHERE slot_name LIKE 'cdc\\_bench\\_%'", db="postgres").splitlines():
            self.psql(f"SELECT pg_drop_replication_slot('{row}')", db="postgres")
        self.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", db="postgres")
        self.psql(f"CREATE DATABASE {DB}", db="postgres")
        # A row as CDC users move them: a key, a few typed columns, ~100 B.
        self.psql("CREATE TABLE public.events (id bigserial PRIMARY KEY, account int NOT NULL, "
                  "amount numeric(12,2), status text, note varchar(64), created timestamptz); "
                  f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.events")
        stamp = int(time.time())
        for rnd in range(a.reps):
            order = list(a.systems) if rnd % 2 == 0 else list(reversed(a.systems))
            for system in order:
                slot = f"cdc_bench_{system}_{rnd}_{stamp}"
                self.psql(f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
                self.runs.append((rnd, system, slot))
        script = os.path.join(a.work, "load.sql")
        with open(script, "w") as f:
            left = a.records
            while left > 0:
                n = min(a.txn, left)
                f.write("INSERT INTO events (account, amount, status, note, created) "
                        f"SELECT i % 1000, (i % 100000) / 100.0, 'settled', "
                        f"'payment ' || md5(i::text), now() FROM generate_series(1, {n}) i;\n")
                left -= n
        b.log(f"load: {a.records} inserts in transactions of {a.txn}")
        t = time.monotonic()
        self.psql(None, file=script)
        self.load_s = time.monotonic() - t
        b.log(f"load written in {self.load_s:.1f} s "
              f"({a.records / self.load_s:,.0f} rows/s); WAL "
              + self.psql("SELECT pg_size_pretty(pg_current_wal_lsn() - min(restart_lsn)) "
                          "FROM pg_replication_slots WHERE slot_name LIKE 'cdc\\_bench\\_%'",
                          db="postgres"))

    # -- one run -----------------------------------------------------------

    def worker_props(self, system, run_dir):
        producer = {**b.PRODUCER_COMMON,
                    **(b.PRODUCER_JAVA if system == "java" else b.PRODUCER_RDKAFKA)}
        props = {
            "bootstrap.servers": self.bootstrap,
            "key.converter": b.JSON,
            "value.converter": b.JSON,
            "offset.storage.file.filename": os.path.join(run_dir, "offsets"),
            "listeners": f"http://127.0.0.1:{b.free_port()}",
            **b.WORKER_COMMON,
            **{f"producer.{k}": v for k, v in producer.items()},
        }
        if system == "java":
            props["plugin.path"] = self.plugin_path
        return props

    def connector_props(self, prefix, slot):
        return {
            "name": prefix,
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "database.hostname": self.pg["POSTGRES_HOST"],
            "database.port": self.pg["POSTGRES_PORT"],
            "database.user": self.pg["POSTGRES_USER"],
            "database.password": self.pg["POSTGRES_PASSWORD"],
            "database.dbname": DB,
            "topic.prefix": prefix,
            "plugin.name": "pgoutput",
            "slot.name": slot,
            "publication.name": PUBLICATION,
            "publication.autocreate.mode": "disabled",
            "snapshot.mode": "no_data",
            "table.include.list": "public\\.events",
        }

    def run_one(self, rnd, system, slot):
        a = self.args
        label = f"{system} #{rnd + 1}"
        prefix = slot.replace("_", "-")
        topic = f"{prefix}.public.events"
        run_dir = os.path.join(a.work, prefix)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        b.sh(b.RAW, "create", self.bootstrap, topic, "1")
        wp = os.path.join(run_dir, "worker.properties")
        cp = os.path.join(run_dir, "connector.properties")
        b.write_props(wp, self.worker_props(system, run_dir))
        b.write_props(cp, self.connector_props(prefix, slot))
        if system == "kconnect":
            cmd = [b.KCONNECT, "standalone", wp, cp]
            env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        else:
            cmd = ["bash", b.JAVA_SH, "standalone", wp, cp]
            env = dict(os.environ, KCONNECT_JAVA_CONNECT_STATE=os.path.join(run_dir, "java"),
                       KCONNECT_JAVA_LOG_LEVEL="WARN")
        watch, progress = b.watch_end_offset(self.bootstrap, topic, a.records)
        logf = open(os.path.join(run_dir, "process.log"), "w")
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        try:
            m = b.Bench.measure(self, p, t0, progress, a.records, label)
        finally:
            b.stop(p)
            b.stop(watch, 5)
        end = progress()
        if end != a.records:
            raise RuntimeError(f"{label}: {end} records for {a.records} changes")
        self.psql(f"SELECT pg_drop_replication_slot('{slot}')")
        b.sh(b.RAW, "delete", self.bootstrap, topic)
        n = a.records
        row = {
            "system": system,
            "rep": rnd + 1,
            "events": n,
            "elapsed_s": round(m["elapsed_s"], 3),
            "startup_s": round(m["startup_s"], 3),
            "events_per_s": round(n / m["elapsed_s"]),
            "steady_events_per_s": round(n * m["steady_frac_per_s"]),
            "cpu_s": round(m["cpu_s"], 2),
            "peak_rss_mib": round(m["peak_rss_mib"], 1),
            "load1": round(os.getloadavg()[0], 2),
        }
        self.rows.append(row)
        b.log(f"{system:8} #{rnd + 1}: {row['elapsed_s']:7.2f} s  {row['events_per_s']:>8} ev/s  "
              f"steady {row['steady_events_per_s']:>8} ev/s  startup {row['startup_s']:5.2f} s  "
              f"cpu {row['cpu_s']:6.2f} s  rss {row['peak_rss_mib']:7.1f} MiB")

    def run(self):
        self.start()
        os.makedirs(self.args.work, exist_ok=True)
        self.prepare()
        for rnd, system, slot in self.runs:
            self.run_one(rnd, system, slot)
        self.report()

    # -- report ------------------------------------------------------------

    def report(self):
        a = self.args
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0].keys()))
            w.writeheader()
            w.writerows(self.rows)
        keys = ("elapsed_s", "startup_s", "events_per_s", "steady_events_per_s", "cpu_s",
                "peak_rss_mib")
        med = {}
        for system in a.systems:
            rs = [r for r in self.rows if r["system"] == system]
            med[system] = {k: b.median(rs, k) for k in keys}
        k, j = med.get("kconnect"), med.get("java")
        m = b.machine()
        lines = [
            "# PostgreSQL CDC: kconnect vs Debezium 3.6.1 on Java Connect 4.1.2",
            "",
            f"{a.records:,} single-row inserts in transactions of {a.txn:,} rows, written "
            f"before the runs (load: {self.load_s:.1f} s); each run streams them from its own "
            f"slot into a 1-partition topic with JsonConverter (schemas on). Medians of "
            f"{a.reps} run(s) per system, alternating. Method: [../../README.md]"
            "(../../README.md#postgresql-cdc).",
            "",
            f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory']}; kconnect {m['kconnect']}; "
            f"{m['rustc']}; {m['java']}.",
            "",
            "| system | elapsed s | startup s | events/s | steady events/s | CPU s | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for system, v in med.items():
            lines.append(f"| {system} | {v['elapsed_s']:.2f} | {v['startup_s']:.2f} | "
                         f"{b.fmt_int(v['events_per_s'])} | {b.fmt_int(v['steady_events_per_s'])} | "
                         f"{v['cpu_s']:.1f} | {v['peak_rss_mib']:.0f} |")
        if k and j:
            lines += [
                "",
                "Ratios kconnect / Debezium (higher is better for rates, lower for the rest):",
                "",
                f"- events/s: **{k['events_per_s'] / j['events_per_s']:.2f}×**, "
                f"steady events/s: **{k['steady_events_per_s'] / j['steady_events_per_s']:.2f}×**",
                f"- CPU seconds: **{k['cpu_s'] / j['cpu_s']:.2f}×**, "
                f"CPU per event: **{(k['cpu_s'] / a.records) / (j['cpu_s'] / a.records):.2f}×**",
                f"- peak RSS: **{k['peak_rss_mib'] / j['peak_rss_mib']:.2f}×** "
                f"({k['peak_rss_mib']:.0f} MiB vs {j['peak_rss_mib']:.0f} MiB)",
                f"- startup to first event: **{k['startup_s'] / j['startup_s']:.2f}×**",
            ]
        lines += ["", "Per-run rows: [results.csv](results.csv). Command: `bench/cdc.sh "
                  + " ".join(a.argv) + "`.", ""]
        with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
            f.write("\n".join(lines))
        b.log(f"results in {a.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", "-n", type=int, default=1_000_000,
                   help="inserts, i.e. change events per run (default 1 000 000)")
    p.add_argument("--txn", type=int, default=1000, help="rows per transaction (default 1000)")
    p.add_argument("--reps", type=int, default=3, help="runs per system (default 3)")
    p.add_argument("--systems", default="kconnect,java", help="of kconnect, java")
    p.add_argument("--quick", action="store_true", help="100 000 inserts, 1 run each")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    p.add_argument("--state", default=os.environ.get("KCONNECT_BENCH_STATE", "/tmp/kconnect-bench"),
                   help="state root of the broker and PostgreSQL (KCONNECT_TEST_STATE)")
    p.add_argument("--out", default=None,
                   help="results directory (default bench/results/postgres-cdc; "
                        "--quick: STATE/quick-results-cdc)")
    a = p.parse_args()
    a.argv = sys.argv[1:]
    if a.quick:
        a.records = 100_000 if "--records" not in sys.argv and "-n" not in sys.argv else a.records
        a.reps = 1 if "--reps" not in sys.argv else a.reps
    a.systems = [s for s in a.systems.split(",") if s]
    for s in a.systems:
        if s not in SYSTEMS:
            sys.exit(f"--systems: {s!r} is not one of {', '.join(SYSTEMS)}")
    a.work = os.path.join(a.state, "work-cdc")
    if a.out is None:
        a.out = (os.path.join(a.state, "quick-results-cdc") if a.quick
                 else os.path.join(b.ROOT, "bench", "results", "postgres-cdc"))
    for exe in (b.KCONNECT, b.RAW):
        if not os.path.exists(exe):
            sys.exit(f"{exe} missing: run bench/cdc.sh (it builds it)")
    CdcBench(a).run()


if __name__ == "__main__":
    main()
