#!/usr/bin/env python3
"""The JDBC sink into PostgreSQL: kconnect's sink against Debezium's JDBC
sink (3.6.0.Final, on Java Connect 4.1.2 standalone) with the same
Debezium-style config, and against the database's own limit measured in
the same run: the same rows written by a minimal program (bench_pg load),
binary COPY into a staging table plus one INSERT ... ON CONFLICT ...
SELECT per batch (upsert), and multi-row INSERT statements (insert).

Run through bench/jdbc.sh (which builds the binaries first); see
bench/README.md ("JDBC sink") for the method. Only the Python 3 standard
library is used.

The topic is loaded once: N JsonConverter envelopes (schemas on) of a
6-field row (id, account, amount, status, note, created as a Connect
Timestamp). Every run writes into a fresh table of the same DDL (created
before the run, so no system pays for DDL) and is timed from process start
until max(id) + 1 reaches N; rows land in id order (one partition, one
task, one transaction after another). Runs alternate between systems.
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
PG_TOOL = os.path.join(b.ROOT, "target", "release", "examples", "bench_pg")
PSQL = "/usr/lib/postgresql/15/bin/psql"
DB = "jdbc_bench"
SYSTEMS = ("kconnect", "java", "limit")
SCENARIOS = ("upsert", "insert")
DDL = ("CREATE TABLE {t} (id bigint PRIMARY KEY, account integer, amount double precision, "
       "status text, note text, created timestamp(6))")
SCHEMA = (
    '{"type":"struct","optional":false,"name":"bench.Payment","fields":['
    '{"field":"id","type":"int64","optional":false},'
    '{"field":"account","type":"int32","optional":false},'
    '{"field":"amount","type":"double","optional":false},'
    '{"field":"status","type":"string","optional":false},'
    '{"field":"note","type":"string","optional":true},'
    '{"field":"created","type":"int64","optional":false,'
    '"name":"org.apache.kafka.connect.data.Timestamp","version":1}]}'
)


def gen_rows(path, n):
    if os.path.exists(path + ".n") and open(path + ".n").read() == str(n):
        return os.path.getsize(path)
    base = 1_704_067_200_000  # 2024-01-01
    with open(path, "w") as f:
        buf = []
        for i in range(n):
            buf.append(f'{{"schema":{SCHEMA},"payload":{{"id":{i},"account":{i % 1000},'
                       f'"amount":{(i % 100000) / 100},"status":"settled",'
                       f'"note":"payment {i:08x} for account {i % 1000}",'
                       f'"created":{base + i * 1000}}}}}\n')
            if len(buf) == 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    with open(path + ".n", "w") as f:
        f.write(str(n))
    return os.path.getsize(path)


class JdbcBench(b.Bench):
    def __init__(self, args):
        args.work_dir = args.work
        args.security = "plaintext"
        super().__init__(args)

    # -- environment -------------------------------------------------------

    def start(self):
        a = self.args
        self.start_broker()
        env = dict(os.environ, KCONNECT_TEST_STATE=a.state)
        out = b.sh("bash", PG_SH, "start", env=env)
        self.pg = dict(line.split("=", 1) for line in out.split() if "=" in line)
        b.log(f"PostgreSQL at {self.pg['POSTGRES_HOST']}:{self.pg['POSTGRES_PORT']}")
        if "java" in a.systems:
            out = b.sh("bash", DEBEZIUM_SH, "install-jdbc")
            self.plugin_path = out.strip().split("DEBEZIUM_JDBC_PLUGIN_PATH=", 1)[1].split()[0]
        self.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", db="postgres")
        self.psql(f"CREATE DATABASE {DB}", db="postgres")
        self.conn = (f"host={self.pg['POSTGRES_HOST']} port={self.pg['POSTGRES_PORT']} "
                     f"user={self.pg['POSTGRES_USER']} password={self.pg['POSTGRES_PASSWORD']} "
                     f"dbname={DB}")

    def psql(self, sql, db=DB):
        cmd = [PSQL, "-h", self.pg["POSTGRES_HOST"], "-p", self.pg["POSTGRES_PORT"],
               "-U", self.pg["POSTGRES_USER"], "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt",
               "-c", sql]
        env = dict(os.environ, PGPASSWORD=self.pg["POSTGRES_PASSWORD"])
        return subprocess.run(cmd, env=env, check=True, text=True,
                              stdout=subprocess.PIPE).stdout.strip()

    # -- one run -----------------------------------------------------------

    def sink_props(self, scenario, table, topic, name):
        return {
            "name": name,
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": f"jdbc:postgresql://{self.pg['POSTGRES_HOST']}:"
                              f"{self.pg['POSTGRES_PORT']}/{DB}",
            "connection.username": self.pg["POSTGRES_USER"],
            "connection.password": self.pg["POSTGRES_PASSWORD"],
            "insert.mode": scenario,
            "primary.key.mode": "record_value",
            "primary.key.fields": "id",
            "schema.evolution": "none",
            "collection.name.format": table,
        }

    def run_one(self, scenario, rnd, system):
        a = self.args
        label = f"{scenario} {system} #{rnd + 1}"
        table = f"bench_{scenario}_{system}_{rnd}"
        run_dir = os.path.join(a.work, table)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        self.psql(f"DROP TABLE IF EXISTS {table}; " + DDL.format(t=table))
        if system == "limit":
            mode = "copy-upsert" if scenario == "upsert" else "insert"
            cmd = [PG_TOOL, "load", mode, self.conn, table, self.data, str(a.limit_batch)]
            env = os.environ
        else:
            worker = self.worker_props(system, run_dir, True)
            if system == "java":
                worker["plugin.path"] = self.plugin_path
                worker["plugin.discovery"] = "hybrid_warn"
            wp = os.path.join(run_dir, "worker.properties")
            cp = os.path.join(run_dir, "connector.properties")
            b.write_props(wp, worker)
            # A connector (consumer group) of its own per run: a group that
            # consumed the topic before would start at its end.
            name = f"{table}-{time.time_ns()}".replace("_", "-")
            b.write_props(cp, self.sink_props(scenario, table, self.topic, name))
            if system == "kconnect":
                cmd = [b.KCONNECT, "standalone", wp, cp]
                env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
            else:
                cmd = ["bash", b.JAVA_SH, "standalone", wp, cp]
                env = dict(os.environ, KCONNECT_JAVA_CONNECT_STATE=os.path.join(run_dir, "java"),
                           KCONNECT_JAVA_LOG_LEVEL="WARN")
        watch, progress = b.watch_progress([PG_TOOL, "watch", self.conn, table, str(a.records)])

        logf = open(os.path.join(run_dir, "process.log"), "w")
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        try:
            m = self.measure(p, t0, progress, a.records, label, exits=system == "limit")
        finally:
            b.stop(p)
            b.stop(watch, 5)
        count = int(self.psql(f"SELECT count(*) FROM {table}"))
        if count != a.records:
            raise RuntimeError(f"{label}: {count} rows for {a.records} records")
        self.psql(f"DROP TABLE {table}")
        n = a.records
        row = {
            "scenario": scenario,
            "system": system,
            "rep": rnd + 1,
            "rows": n,
            "elapsed_s": round(m["elapsed_s"], 3),
            "startup_s": round(m["startup_s"], 3),
            "rows_per_s": round(n / m["elapsed_s"]),
            "steady_rows_per_s": round(n * m["steady_frac_per_s"]),
            "cpu_s": round(m["cpu_s"], 2),
            "peak_rss_mib": round(m["peak_rss_mib"], 1),
            "load1": round(os.getloadavg()[0], 2),
        }
        self.rows.append(row)
        b.log(f"{scenario:6} {system:8} #{rnd + 1}: {row['elapsed_s']:7.2f} s  "
              f"{row['rows_per_s']:>8} rows/s  steady {row['steady_rows_per_s']:>8} rows/s  "
              f"cpu {row['cpu_s']:6.2f} s  rss {row['peak_rss_mib']:7.1f} MiB")

    def run(self):
        a = self.args
        os.makedirs(a.work, exist_ok=True)
        self.start()
        self.data = os.path.join(a.work, f"rows-{a.records}.json")
        gen_rows(self.data, a.records)
        self.topic = f"jdbc-bench-{a.records}"
        self.preload(self.topic, self.data, a.records)
        for scenario in a.scenarios:
            for rnd in range(a.reps):
                order = list(a.systems) if rnd % 2 == 0 else list(reversed(a.systems))
                for system in order:
                    self.run_one(scenario, rnd, system)
        self.report()

    # -- report ------------------------------------------------------------

    def report(self):
        a = self.args
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0].keys()))
            w.writeheader()
            w.writerows(self.rows)
        keys = ("elapsed_s", "rows_per_s", "steady_rows_per_s", "cpu_s", "peak_rss_mib")
        m = b.machine()
        lines = [
            "# JDBC sink into PostgreSQL: kconnect vs Debezium's JDBC sink 3.6.0 and the database's limit",
            "",
            f"{a.records:,} JsonConverter records (schemas on, 6 fields) in a 1-partition topic, "
            "written by each system into a fresh table of the same DDL on the test PostgreSQL 15 "
            "(`primary.key.mode=record_value`, `schema.evolution=none`, Debezium's defaults "
            "otherwise; `limit` is bench_pg writing the same rows from a file in batches of "
            f"{a.limit_batch:,}). Medians of {a.reps} run(s) per system, alternating. "
            "Method: [../../README.md](../../README.md#jdbc-sink-benchmark).",
            "",
            f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory']}; kconnect {m['kconnect']}; "
            f"{m['rustc']}; {m['java']}.",
            "",
        ]
        for scenario in a.scenarios:
            med = {}
            for system in a.systems:
                rs = [r for r in self.rows if r["system"] == system and r["scenario"] == scenario]
                if rs:
                    med[system] = {k: b.median(rs, k) for k in keys}
            lines += [
                f"## {scenario}",
                "",
                "| system | elapsed s | rows/s | steady rows/s | CPU s | peak RSS MiB |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for system, v in med.items():
                lines.append(f"| {system} | {v['elapsed_s']:.2f} | {b.fmt_int(v['rows_per_s'])} | "
                             f"{b.fmt_int(v['steady_rows_per_s'])} | {v['cpu_s']:.1f} | "
                             f"{v['peak_rss_mib']:.0f} |")
            k = med.get("kconnect")
            lines.append("")
            for peer in ("java", "limit"):
                v = med.get(peer)
                if k and v:
                    lines.append(
                        f"- kconnect / {peer}: rows/s **{k['rows_per_s'] / v['rows_per_s']:.2f}×**, "
                        f"steady **{k['steady_rows_per_s'] / v['steady_rows_per_s']:.2f}×**, "
                        f"CPU s **{k['cpu_s'] / v['cpu_s']:.2f}×**, "
                        f"peak RSS **{k['peak_rss_mib'] / v['peak_rss_mib']:.2f}×**")
            lines.append("")
        lines += ["Per-run rows: [results.csv](results.csv). Command: `bench/jdbc.sh "
                  + " ".join(a.argv) + "`.", ""]
        with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
            f.write("\n".join(lines))
        b.log(f"results in {a.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", "-n", type=int, default=500_000,
                   help="records, i.e. rows per run (default 500 000)")
    p.add_argument("--reps", type=int, default=3, help="runs per system (default 3)")
    p.add_argument("--systems", default="kconnect,java,limit", help="of kconnect, java, limit")
    p.add_argument("--scenarios", default="upsert,insert", help="of upsert, insert")
    p.add_argument("--limit-batch", type=int, default=10_000,
                   help="rows per transaction of the limit program (default 10 000)")
    p.add_argument("--quick", action="store_true", help="50 000 records, 1 run each")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    p.add_argument("--state", default=os.environ.get("KCONNECT_BENCH_STATE", "/tmp/kconnect-bench"),
                   help="state root of the broker and PostgreSQL (KCONNECT_TEST_STATE)")
    p.add_argument("--out", default=None,
                   help="results directory (default bench/results/jdbc-sink; "
                        "--quick: STATE/quick-results-jdbc)")
    a = p.parse_args()
    a.argv = sys.argv[1:]
    if a.quick:
        a.records = 50_000 if "--records" not in sys.argv and "-n" not in sys.argv else a.records
        a.reps = 1 if "--reps" not in sys.argv else a.reps
    a.systems = [s for s in a.systems.split(",") if s]
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.systems:
        if s not in SYSTEMS:
            sys.exit(f"--systems: {s!r} is not one of {', '.join(SYSTEMS)}")
    for s in a.scenarios:
        if s not in SCENARIOS:
            sys.exit(f"--scenarios: {s!r} is not one of {', '.join(SCENARIOS)}")
    a.work = os.path.join(a.state, "work-jdbc")
    if a.out is None:
        a.out = (os.path.join(a.state, "quick-results-jdbc") if a.quick
                 else os.path.join(b.ROOT, "bench", "results", "jdbc-sink"))
    for exe in (b.KCONNECT, b.RAW, PG_TOOL):
        if not os.path.exists(exe):
            sys.exit(f"{exe} missing: run bench/jdbc.sh (it builds it)")
    JdbcBench(a).run()


if __name__ == "__main__":
    main()
