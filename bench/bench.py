#!/usr/bin/env python3
"""kconnect vs Apache Kafka Connect (Java) vs raw librdkafka: FileStream
sink, source and a transform path, on one real KRaft broker.

Run through bench/run.sh (which builds the binaries first); see
bench/README.md for the method. Only the Python 3 standard library is used.
"""

import argparse
import csv
import datetime
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# KCONNECT_BENCH_BIN measures another build; KCONNECT_BENCH_LABEL names it.
KCONNECT = os.environ.get("KCONNECT_BENCH_BIN") or os.path.join(ROOT, "target", "release", "kconnect")
# The `baseline` system: another kconnect build (e.g. the commit before a
# change), run alternating with the others so the same load hits both;
# KCONNECT_BENCH_BASELINE_LABEL names it.
BASELINE = os.environ.get("KCONNECT_BENCH_BASELINE")
RAW = os.path.join(ROOT, "target", "release", "examples", "bench_raw")
KAFKA_SH = os.path.join(ROOT, "tests", "env", "kafka.sh")
JAVA_SH = os.path.join(ROOT, "tests", "env", "connect-java.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL = 0.02  # completion / progress sampling interval, seconds

SYSTEMS = ("kconnect", "baseline", "java", "raw")

# ---------------------------------------------------------------------------
# Settings. The same kind of tuning for every system: the keys below are
# given to both Connect workers (producer.* / consumer.*), and to the raw
# programs as librdkafka properties (-X). Java-client-only or
# librdkafka-only keys are listed apart.
# ---------------------------------------------------------------------------

# Both clients know these keys with the same meaning.
PRODUCER_COMMON = {
    "acks": "all",
    "enable.idempotence": "true",
    "max.in.flight.requests.per.connection": "5",
    "linger.ms": "20",
    "batch.size": "1000000",  # bytes per partition batch (librdkafka's default)
    "compression.type": "none",
}
# librdkafka only (kconnect's producer defaults, repeated for the raw producer).
PRODUCER_RDKAFKA = {
    "batch.num.messages": "10000",
    "queue.buffering.max.messages": "100000",
    "queue.buffering.max.kbytes": "32768",  # = Java's buffer.memory below
}
# Java only (the Java producer's buffer, matching queue.buffering.max.kbytes).
PRODUCER_JAVA = {"buffer.memory": "33554432"}  # Java's default

CONSUMER_COMMON = {
    "fetch.min.bytes": "1",
    "fetch.max.bytes": "52428800",
    "max.partition.fetch.bytes": "1048576",
    "auto.offset.reset": "earliest",
}
# librdkafka only (kconnect's consumer defaults, repeated for the raw consumer).
CONSUMER_RDKAFKA = {
    "fetch.wait.max.ms": "100",
    "queued.min.messages": "20000",
    # kconnect's defaults (src/engine/kafka.rs). Before fetch.queue.backoff.ms
    # was lowered, a 16 MiB bound cut kconnect's sink rate by 2.6x
    # (bench/profile.md); with it, 4 MiB costs no throughput.
    "queued.max.messages.kbytes": "4096",
    # kconnect's default since this bench found librdkafka's 1 s refetch
    # backoff idling the sink; the raw consumer gets it too.
    "fetch.queue.backoff.ms": "10",
}
# Java only: records per poll = kconnect's records per put (2000).
CONSUMER_JAVA = {"fetch.max.wait.ms": "100", "max.poll.records": "2000"}

WORKER_COMMON = {
    "offset.flush.interval.ms": "1000",
}

TRANSFORMS = {
    "transforms": "insert,replace",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.static.field": "origin",
    "transforms.insert.static.value": "bench",
    "transforms.insert.topic.field": "topic",
    "transforms.replace.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.replace.exclude": "pad",
    "transforms.replace.renames": "name:username",
}

STRING = "org.apache.kafka.connect.storage.StringConverter"
JSON = "org.apache.kafka.connect.json.JsonConverter"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_props(path, props):
    with open(path, "w") as f:
        for k, v in props.items():
            f.write(f"{k}={v}\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE, **kw).stdout


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def gen_plain(path, n, size):
    """n lines of exactly `size` bytes plus '\\n': a 10-digit sequence number,
    then text. Returns the file's byte count."""
    if os.path.exists(path) and os.path.getsize(path) == n * (size + 1):
        return n * (size + 1)
    pool = (ALPHABET * (size // len(ALPHABET) + 3))
    pad = size - 11
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        buf = []
        for i in range(n):
            j = i % len(ALPHABET)
            buf.append(f"{i:010d} {pool[j:j + pad]}\n")
            if len(buf) == 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    os.replace(tmp, path)
    return n * (size + 1)


JSON_SCHEMA = (
    '{"type":"struct","optional":false,"name":"bench.Record","fields":['
    '{"field":"id","type":"int64","optional":false},'
    '{"field":"name","type":"string","optional":false},'
    '{"field":"active","type":"boolean","optional":false},'
    '{"field":"pad","type":"string","optional":true}]}'
)


def gen_json(path, n):
    """n JsonConverter envelopes (schemas.enable=true) of a 4-field struct."""
    if os.path.exists(path + ".n") and open(path + ".n").read() == str(n):
        return os.path.getsize(path)
    pad = ALPHABET[:40]
    with open(path, "w") as f:
        buf = []
        for i in range(n):
            active = "true" if i % 2 else "false"
            buf.append(
                f'{{"schema":{JSON_SCHEMA},"payload":{{"id":{i},"name":"user-{i % 1000}",'
                f'"active":{active},"pad":"{pad}"}}}}\n'
            )
            if len(buf) == 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    with open(path + ".n", "w") as f:
        f.write(str(n))
    return os.path.getsize(path)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def proc_usage(pid):
    """(cpu seconds user+system, peak RSS MiB) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, hwm


def watch_end_offset(bootstrap, topic, n):
    """`bench_raw watch` on a topic, and progress(): its latest end offset,
    read without blocking."""
    return watch_progress([RAW, "watch", bootstrap, topic, str(n)])


def watch_progress(cmd):
    """A watcher printing "<ms> <count>" lines, and progress(): its latest
    count, read without blocking."""
    watch = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    os.set_blocking(watch.stdout.fileno(), False)
    state = {"end": 0, "buf": ""}

    def progress():
        try:
            data = watch.stdout.read()
        except (BlockingIOError, TypeError):
            data = None
        if data:
            state["buf"] += data
            *lines, state["buf"] = state["buf"].split("\n")
            for line in lines:
                if line.strip():
                    state["end"] = int(line.split()[1])
        return state["end"]

    return watch, progress


def stop(p, timeout=30):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work_dir
        os.makedirs(self.work, exist_ok=True)
        self.rows = []
        self.bootstrap = None

    # -- environment -------------------------------------------------------

    def start_broker(self):
        env = dict(os.environ, KCONNECT_TEST_STATE=self.args.state)
        out = sh("bash", KAFKA_SH, "start", env=env)
        m = re.search(r"KAFKA_BOOTSTRAP=(\S+)", out)
        if not m:
            sys.exit(f"kafka.sh start printed no bootstrap: {out!r}")
        self.bootstrap = m.group(1)
        log(f"broker at {self.bootstrap} (state {self.args.state}/kafka)")
        # Where the measured clients connect; helpers (preload, watch,
        # topic admin) stay on PLAINTEXT.
        self.workload = self.bootstrap
        if self.args.security == "sasl_ssl":
            sec = dict(line.split("=", 1) for line in
                       sh("bash", KAFKA_SH, "security", env=env).split() if "=" in line)
            self.workload = sec["KAFKA_SASL_SSL_BOOTSTRAP"]
            self.ca = os.path.join(sec["KAFKA_TLS_DIR"], "ca.crt")
            log(f"measured clients on SASL_SSL (SCRAM-SHA-512) at {self.workload}")
        subprocess.run(["bash", JAVA_SH, "install"], check=True)

    def raw(self, *args, **kw):
        return sh(RAW, *args, **kw)

    def end_offset(self, topic):
        p = subprocess.Popen([RAW, "watch", self.bootstrap, topic, "0"],
                             stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate()
        return int(out.split()[-1]) if out.strip() else 0

    def preload(self, topic, path, n):
        if self.end_offset(topic) == n:
            log(f"topic {topic} already holds {n} records")
            return
        self.raw("delete", self.bootstrap, topic)
        time.sleep(1)
        self.raw("create", self.bootstrap, topic, "1")
        log(f"pre-loading {n} records into {topic}")
        t = time.monotonic()
        subprocess.run([RAW, "source", self.bootstrap, topic, path, "--exit",
                        *self.rdkafka_producer(measured=False)], check=True)
        got = self.end_offset(topic)
        if got != n:
            sys.exit(f"pre-load of {topic}: end offset {got}, expected {n}")
        log(f"pre-loaded {topic} in {time.monotonic() - t:.1f} s")

    # -- configs -----------------------------------------------------------

    def rdkafka_producer(self, measured=True):
        out = []
        security = self.rdkafka_security() if measured else {}
        for k, v in {**PRODUCER_COMMON, **PRODUCER_RDKAFKA, **security}.items():
            out += ["-X", f"{k}={v}"]
        return out

    def rdkafka_consumer(self):
        out = []
        for k, v in {**CONSUMER_COMMON, **CONSUMER_RDKAFKA, **self.rdkafka_security()}.items():
            out += ["-X", f"{k}={v}"]
        return out

    def rdkafka_security(self):
        """librdkafka's keys for the measured clients (raw)."""
        if self.args.security != "sasl_ssl":
            return {}
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "alice", "sasl.password": "alice-secret",
                "ssl.ca.location": self.ca}

    def java_security(self):
        """Java's keys for the measured clients (kconnect and Java Connect
        read the same worker config)."""
        if self.args.security != "sasl_ssl":
            return {}
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                                    'required username="alice" password="alice-secret";',
                "ssl.truststore.type": "PEM", "ssl.truststore.location": self.ca}

    def worker_props(self, system, run_dir, json_conv):
        conv = JSON if json_conv else STRING
        props = {
            "bootstrap.servers": self.workload,
            "key.converter": conv,
            "value.converter": conv,
            "key.converter.schemas.enable": "true",
            "value.converter.schemas.enable": "true",
            "offset.storage.file.filename": os.path.join(run_dir, "offsets"),
            "listeners": f"http://127.0.0.1:{free_port()}",
            **WORKER_COMMON,
        }
        producer = {**PRODUCER_COMMON}
        consumer = {**CONSUMER_COMMON}
        if system == "java":
            props["plugin.discovery"] = "service_load"
            producer.update(PRODUCER_JAVA)
            consumer.update(CONSUMER_JAVA)
        else:
            producer.update(PRODUCER_RDKAFKA)
            consumer.update(CONSUMER_RDKAFKA)
        props.update({f"producer.{k}": v for k, v in producer.items()})
        props.update({f"consumer.{k}": v for k, v in consumer.items()})
        for prefix in ("", "producer.", "consumer.", "admin."):
            props.update({f"{prefix}{k}": v for k, v in self.java_security().items()})
        return props

    # -- one run -----------------------------------------------------------

    def launch(self, system, run_dir, worker, connector, raw_args):
        logf = open(os.path.join(run_dir, "process.log"), "w")
        if system == "raw":
            cmd = [RAW, *raw_args]
            env = os.environ
        else:
            wp = os.path.join(run_dir, "worker.properties")
            cp = os.path.join(run_dir, "connector.properties")
            write_props(wp, worker)
            write_props(cp, connector)
            if system in ("kconnect", "baseline"):
                exe = KCONNECT if system == "kconnect" else BASELINE
                cmd = [exe, "standalone", wp, cp]
                env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
            else:
                cmd = ["bash", JAVA_SH, "standalone", wp, cp]
                env = dict(os.environ, KCONNECT_JAVA_CONNECT_STATE=os.path.join(run_dir, "java"),
                           KCONNECT_JAVA_LOG_LEVEL="WARN")
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        return p, t0

    def measure(self, p, t0, progress, target, label, exits=False):
        """Samples progress() until it reaches target. Returns the record of
        the run: end-to-end and steady-state times, CPU and peak RSS. A
        process that `exits` when done (a limit program) may end before the
        last sample: its CPU and RSS are the last read while it ran."""
        samples = []
        deadline = t0 + self.args.timeout
        cpu, rss = 0.0, 0.0
        while True:
            now = time.monotonic()
            if exits and p.poll() is None:
                try:
                    cpu, rss = proc_usage(p.pid)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            done = progress()
            samples.append((now, done))
            if done >= target:
                if not exits:
                    cpu, rss = proc_usage(p.pid)
                break
            if p.poll() is not None and not (exits and p.returncode == 0):
                raise RuntimeError(f"{label}: process exited with {p.returncode} at {done}/{target}")
            if now > deadline:
                raise RuntimeError(f"{label}: timed out at {done}/{target}")
            time.sleep(POLL)
        t_end = samples[-1][0]

        def crossing(frac):
            for t, d in samples:
                if d >= frac * target:
                    return t
            return t_end

        first = crossing(1e-9)
        t10, t90 = crossing(0.1), crossing(0.9)
        steady = 0.8 / (t90 - t10) if t90 > t10 else float("nan")
        return {
            "elapsed_s": t_end - t0,
            "startup_s": first - t0,
            "first_to_last_s": t_end - first,
            "steady_frac_per_s": steady,
            "cpu_s": cpu,
            "peak_rss_mib": rss,
        }

    def run_sink(self, scenario, system, rep, topic, n, expect_bytes, data_bytes, json_conv):
        label = f"{scenario} {system} #{rep + 1}"
        run_dir = os.path.join(self.work, f"{scenario}-{system}-{rep}")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        out = os.path.join(run_dir, "out.txt")
        name = f"bench-{scenario}-{system}-{rep}-{int(time.time())}"
        worker = self.worker_props(system, run_dir, json_conv)
        connector = {
            "name": name,
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "tasks.max": "1",
            "file": out,
            "topics": topic,
        }
        if json_conv:
            connector.update(TRANSFORMS)
        raw_args = ["sink", self.workload, topic, name, out, *self.rdkafka_consumer()]

        if expect_bytes is not None:
            def progress():
                try:
                    return os.path.getsize(out)
                except FileNotFoundError:
                    return 0
            target = expect_bytes
        else:
            # Count lines as they are appended (the output format of the
            # transform path is not known in advance).
            state = {"fd": None, "lines": 0}

            def progress():
                if state["fd"] is None:
                    try:
                        state["fd"] = os.open(out, os.O_RDONLY)
                    except FileNotFoundError:
                        return 0
                while True:
                    chunk = os.read(state["fd"], 1 << 22)
                    if not chunk:
                        return state["lines"]
                    state["lines"] += chunk.count(b"\n")
            target = n

        p, t0 = self.launch(system, run_dir, worker, connector, raw_args)
        try:
            m = self.measure(p, t0, progress, target, label)
        finally:
            stop(p)
        m["output_bytes"] = os.path.getsize(out)
        self.record(scenario, system, rep, n, data_bytes, m)
        if not self.args.keep:
            os.remove(out)

    def run_source(self, scenario, system, rep, path, n, data_bytes):
        label = f"{scenario} {system} #{rep + 1}"
        run_dir = os.path.join(self.work, f"{scenario}-{system}-{rep}")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        topic = f"bench-{scenario}-{system}-{rep}-{int(time.time())}"
        self.raw("create", self.bootstrap, topic, "1")
        worker = self.worker_props(system, run_dir, False)
        connector = {
            "name": topic,
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": "1",
            "file": path,
            "topic": topic,
        }
        raw_args = ["source", self.workload, topic, path, *self.rdkafka_producer()]
        watch, progress = watch_end_offset(self.bootstrap, topic, n)
        p, t0 = self.launch(system, run_dir, worker, connector, raw_args)
        try:
            m = self.measure(p, t0, progress, n, label)
        finally:
            stop(p)
            stop(watch, 5)
        m["output_bytes"] = data_bytes
        self.record(scenario, system, rep, n, data_bytes, m)
        self.raw("delete", self.bootstrap, topic)

    def record(self, scenario, system, rep, n, data_bytes, m):
        if scenario == "warmup":
            log(f"warm-up {system}: {m['elapsed_s']:.2f} s")
            return
        row = {
            "scenario": scenario,
            "system": system,
            "rep": rep + 1,
            "records": n,
            "data_bytes": data_bytes,
            "elapsed_s": round(m["elapsed_s"], 3),
            "startup_s": round(m["startup_s"], 3),
            "records_per_s": round(n / m["elapsed_s"]),
            "mb_per_s": round(data_bytes / 1e6 / m["elapsed_s"], 2),
            "steady_records_per_s": round(n * m["steady_frac_per_s"]),
            "steady_mb_per_s": round(data_bytes / 1e6 * m["steady_frac_per_s"], 2),
            "cpu_s": round(m["cpu_s"], 2),
            "peak_rss_mib": round(m["peak_rss_mib"], 1),
            "output_bytes": m["output_bytes"],
            "load1": round(os.getloadavg()[0], 2),
        }
        self.rows.append(row)
        log(f"{scenario:14} {system:8} #{rep + 1}: {row['elapsed_s']:7.2f} s  "
            f"{row['records_per_s']:>9} rec/s  steady {row['steady_records_per_s']:>9} rec/s  "
            f"{row['mb_per_s']:7.1f} MB/s  cpu {row['cpu_s']:6.2f} s  rss {row['peak_rss_mib']:7.1f} MiB")
        self.write_csv()

    def write_csv(self):
        os.makedirs(self.args.out, exist_ok=True)
        with open(os.path.join(self.args.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0].keys()))
            w.writeheader()
            w.writerows(self.rows)

    # -- the whole benchmark -----------------------------------------------

    def run(self):
        a = self.args
        self.load_before = os.getloadavg()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.start_broker()
        systems = [s for s in SYSTEMS if s in a.systems]
        # Warm-up, not measured: creates __consumer_offsets (the first group
        # on a fresh broker waits for it), fills the page cache with the
        # binaries and jars.
        path = os.path.join(self.work, "data-warmup.txt")
        d = gen_plain(path, 20000, 100)
        self.preload("bench-warmup", path, 20000)
        for system in systems:
            self.run_sink("warmup", system, 0, "bench-warmup", 20000, d, d, False)
        plans = []  # (scenario, systems, runner)
        sfx = "-sasl-ssl" if a.security == "sasl_ssl" else ""
        for size in a.sizes:
            n = a.large_records if (size >= 1000 and a.large_records) else a.records
            path = os.path.join(self.work, f"data-{size}b-{n}.txt")
            log(f"generating {n} lines of {size} bytes")
            data_bytes = gen_plain(path, n, size)
            if "sink" in a.scenarios:
                topic = f"bench-sink-{size}b-{n}"
                self.preload(topic, path, n)
                plans.append((f"sink-{size}b{sfx}", systems,
                              lambda s, r, sc=f"sink-{size}b{sfx}", t=topic, d=data_bytes, n=n:
                              self.run_sink(sc, s, r, t, n, d, d, False)))
            if "source" in a.scenarios:
                plans.append((f"source-{size}b{sfx}", systems,
                              lambda s, r, sc=f"source-{size}b{sfx}", pth=path, d=data_bytes, n=n:
                              self.run_source(sc, s, r, pth, n, d)))
        if "transform" in a.scenarios:
            n = a.transform_records or a.records
            path = os.path.join(self.work, f"data-json-{n}.txt")
            log(f"generating {n} JSON envelopes")
            data_bytes = gen_json(path, n)
            topic = f"bench-json-{n}"
            self.preload(topic, path, n)
            plans.append(("sink-json-smt", [s for s in systems if s != "raw"],
                          lambda s, r, t=topic, d=data_bytes:
                          self.run_sink("sink-json-smt", s, r, t, n, None, d, True)))
        for scenario, syss, runner in plans:
            for rep in range(a.reps):
                # Alternate, and rotate who goes first, so load drift and
                # page-cache warmth hit every system alike.
                order = syss[rep % len(syss):] + syss[:rep % len(syss)]
                for system in order:
                    runner(system, rep)
        self.load_after = os.getloadavg()
        if a.placement:
            self.placement = run_placement()
        else:
            self.placement = None
        write_report(self)


# ---------------------------------------------------------------------------
# Placement bench (criterion)
# ---------------------------------------------------------------------------


def run_placement():
    log("cargo bench --bench placement")
    out = subprocess.run(["cargo", "bench", "--bench", "placement"], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
    results = []
    name = None
    for line in out.splitlines():
        m = re.match(r"^(\S+/\S+)\s*(time:.*)?$", line.strip())
        if m and "/" in m.group(1) and not line.startswith(" "):
            name = m.group(1)
        t = re.search(r"time:\s+\[(\S+ \S+) (\S+ \S+) (\S+ \S+)\]", line)
        if t and name:
            results.append((name, t.group(1), t.group(2), t.group(3)))
            name = None
    if not results:
        log("placement bench output not understood:\n" + out[-2000:])
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def uncommitted():
    """Names the tracked files changed since the commit that the run
    measured (`git diff --name-only HEAD`); results and notes are not code."""
    try:
        r = subprocess.run(["git", "-C", ROOT, "diff", "--name-only", "HEAD"],
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return ""
    files = [f for f in r.stdout.splitlines() if f]
    code = [f for f in files if not f.startswith("bench/results/") and f != "bench/profile.md"]
    if not code:
        return ""
    return " (with uncommitted changes to " + ", ".join(code) + ")"


def machine():
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def out(*cmd):
        try:
            r = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            return r.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    commit = out("git", "-C", ROOT, "rev-parse", "--short", "HEAD")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "rustc": out("rustc", "--version"),
        "java": out("java", "-version"),
        "kconnect": os.environ.get("KCONNECT_BENCH_LABEL") or commit + uncommitted(),
        "baseline": os.environ.get("KCONNECT_BENCH_BASELINE_LABEL") or BASELINE or "",
    }


def fmt_int(x):
    return f"{x:,.0f}".replace(",", " ")


def write_report(b):
    a = b.args
    rows = b.rows
    scenarios = []
    for r in rows:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    summary = []
    for sc in scenarios:
        med = {}
        for system in SYSTEMS:
            rs = [r for r in rows if r["scenario"] == sc and r["system"] == system]
            if not rs:
                continue
            med[system] = {k: median(rs, k) for k in (
                "elapsed_s", "startup_s", "records_per_s", "mb_per_s", "steady_records_per_s",
                "steady_mb_per_s", "cpu_s", "peak_rss_mib")}
            med[system]["runs"] = len(rs)
        for system, m in med.items():
            k, j, lim = med.get("kconnect"), med.get("java"), med.get("raw")
            base = med.get("baseline")
            summary.append({
                "scenario": sc, "system": system, "runs": m["runs"],
                **{key: m[key] for key in m if key != "runs"},
                "kconnect_over_java_records": (round(k["records_per_s"] / j["records_per_s"], 2)
                                               if system == "kconnect" and j else ""),
                "kconnect_over_java_steady": (round(k["steady_records_per_s"] / j["steady_records_per_s"], 2)
                                              if system == "kconnect" and j else ""),
                "kconnect_over_raw_records": (round(k["records_per_s"] / lim["records_per_s"], 2)
                                              if system == "kconnect" and lim else ""),
                "kconnect_over_raw_steady": (round(k["steady_records_per_s"] / lim["steady_records_per_s"], 2)
                                             if system == "kconnect" and lim else ""),
                "kconnect_over_java_rss": (round(k["peak_rss_mib"] / j["peak_rss_mib"], 3)
                                           if system == "kconnect" and j else ""),
                "kconnect_over_baseline_records": (round(k["records_per_s"] / base["records_per_s"], 2)
                                                   if system == "kconnect" and base else ""),
                "kconnect_over_baseline_steady": (round(k["steady_records_per_s"] / base["steady_records_per_s"], 2)
                                                  if system == "kconnect" and base else ""),
            })
    with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0].keys()))
        w.writeheader()
        w.writerows(summary)

    mc = machine()
    L = []
    L.append("# kconnect benchmark results\n")
    L.append(f"Generated by `bench/run.sh{' ' + ' '.join(a.argv) if a.argv else ''}` on "
             f"{b.started.strftime('%Y-%m-%d %H:%M UTC')}. Method and settings: "
             f"[bench/README.md](../README.md). Per-run figures: [results.csv](results.csv); "
             f"medians: [summary.csv](summary.csv).\n")
    L.append("## Machine and versions\n")
    L.append(f"- {mc['cores']} cores ({mc['cpu']}), {mc['memory']} memory, Linux {mc['kernel']}")
    L.append(f"- load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in b.load_before)}, "
             f"after: {' / '.join(f'{x:.2f}' for x in b.load_after)}; per-run 1-min load is in results.csv")
    L.append(f"- kconnect {mc['kconnect']} (release build, {mc['rustc']}; librdkafka 2.12.1 via rdkafka 0.39)")
    L.append(f"- Apache Kafka Connect 4.1.2 (jars from Maven Central, `tests/env/connect-java.sh`), "
             f"{mc['java']}, heap `{os.environ.get('KCONNECT_JAVA_HEAP', '-Xms256m -Xmx1g')}`, G1")
    L.append("- broker: Apache Kafka 4.1.2, one KRaft node on loopback (`tests/env/kafka.sh`), "
             "topics with 1 partition, RF 1")
    if a.security == "sasl_ssl":
        L.append("- measured clients on the broker's SASL_SSL listener: TLS (RSA 2048 certificate, "
                 "the CA as PEM) and SCRAM-SHA-512, the same worker config keys for kconnect and "
                 "Java, librdkafka's keys for raw")
    large = a.large_records or a.records
    L.append(f"- records per run: {a.records:,} for {', '.join(f'{s} B' for s in a.sizes if s < 1000 or not a.large_records)}"
             + (f"; {large:,} for {', '.join(f'{s} B' for s in a.sizes if s >= 1000)}" if a.large_records else "")
             + f"; {(a.transform_records or a.records):,} JSON envelopes on the transform path "
             f"(+1 B newline per line in files); {a.reps} runs per system, alternating\n")
    L.append("## Results (medians)\n")
    L.append("`rec/s` and `MB/s` are end to end: from process start to the last record in the "
             "file (sink) or acknowledged in the topic (source), JVM/worker startup and group join "
             "included. `steady rec/s` excludes startup and the tail: the rate between 10 % and 90 % "
             "of the records. CPU is user+system seconds of the worker process up to completion; "
             "RSS is its peak (VmHWM). MB = 10^6 bytes of record values. The broker's CPU and memory "
             "are not counted.\n")
    L.append("| scenario | system | runs | time s | startup s | rec/s | MB/s | steady rec/s | steady MB/s "
             "| CPU s | peak RSS MiB |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for s in summary:
        L.append(f"| {s['scenario']} | {s['system']} | {s['runs']} | {s['elapsed_s']:.2f} | "
                 f"{s['startup_s']:.2f} | {fmt_int(s['records_per_s'])} | {s['mb_per_s']:.1f} | "
                 f"{fmt_int(s['steady_records_per_s'])} | {s['steady_mb_per_s']:.1f} | "
                 f"{s['cpu_s']:.2f} | {s['peak_rss_mib']:.1f} |")
    L.append("")
    L.append("### Ratios (kconnect over the others, medians)\n")
    L.append("| scenario | kconnect/Java rec/s | kconnect/Java steady | kconnect/raw rec/s | "
             "kconnect/raw steady | kconnect/Java RSS | kconnect/Java CPU s |")
    L.append("|---|--:|--:|--:|--:|--:|--:|")
    for sc in scenarios:
        k = next((s for s in summary if s["scenario"] == sc and s["system"] == "kconnect"), None)
        j = next((s for s in summary if s["scenario"] == sc and s["system"] == "java"), None)
        if not k:
            continue

        def r(key, fmtx="{:.2f}×"):
            return fmtx.format(k[key]) if k[key] != "" else "–"
        cpu = f"{k['cpu_s'] / j['cpu_s']:.2f}×" if j and j["cpu_s"] else "–"
        L.append(f"| {sc} | {r('kconnect_over_java_records')} | {r('kconnect_over_java_steady')} | "
                 f"{r('kconnect_over_raw_records')} | {r('kconnect_over_raw_steady')} | "
                 f"{r('kconnect_over_java_rss', '{:.3f}×')} | {cpu} |")
    L.append("")
    if any(s["system"] == "baseline" for s in summary):
        L.append(f"### kconnect over the baseline build ({mc['baseline']}), medians\n")
        L.append("| scenario | kconnect/baseline rec/s | kconnect/baseline steady | startup s kconnect | startup s baseline |")
        L.append("|---|--:|--:|--:|--:|")
        for sc in scenarios:
            k = next((s for s in summary if s["scenario"] == sc and s["system"] == "kconnect"), None)
            base = next((s for s in summary if s["scenario"] == sc and s["system"] == "baseline"), None)
            if k and base:
                L.append(f"| {sc} | {k['kconnect_over_baseline_records']:.2f}× | "
                         f"{k['kconnect_over_baseline_steady']:.2f}× | {k['startup_s']:.2f} | {base['startup_s']:.2f} |")
        L.append("")
    if b.placement is not None:
        L.append("## Placement benchmark (`cargo bench --bench placement`)\n")
        L.append("10 000 tasks (500 connectors × 20 tasks) over 100 workers; criterion's "
                 "[low, estimate, high] of the time per `place` call.\n")
        L.append("| case | time (estimate) | low | high |")
        L.append("|---|--:|--:|--:|")
        for name, lo, est, hi in b.placement:
            L.append(f"| {name} | {est} | {lo} | {hi} |")
        L.append("")
    profile = os.path.join(ROOT, "bench", "profile.md")
    if os.path.exists(profile):
        with open(profile) as f:
            L.append(f.read())
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(L))
    log(f"wrote {a.out}/RESULTS.md, results.csv, summary.csv")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--records", "-n", type=int, default=2_000_000, help="records per run (default 2 000 000)")
    p.add_argument("--sizes", default="100,1024", help="record sizes in bytes (default 100,1024)")
    p.add_argument("--reps", type=int, default=3, help="runs per system and scenario (default 3)")
    p.add_argument("--large-records", type=int, default=0,
                   help="records of the sizes >= 1000 B (default: --records)")
    p.add_argument("--transform-records", type=int, default=0,
                   help="records of the transform path (default: --records)")
    p.add_argument("--scenarios", default="sink,source,transform")
    p.add_argument("--security", choices=["plaintext", "sasl_ssl"], default="plaintext",
                   help="the measured clients' listener: sasl_ssl = TLS + SCRAM-SHA-512 "
                        "(the test broker's, tests/env/kafka.sh)")
    p.add_argument("--systems", default="kconnect,java,raw",
                   help="of kconnect, baseline (KCONNECT_BENCH_BASELINE), java, raw")
    p.add_argument("--quick", action="store_true", help="100 000 records, 1 run each, no placement bench")
    p.add_argument("--no-placement", dest="placement", action="store_false")
    p.add_argument("--keep", action="store_true", help="keep the sink output files")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run before giving up")
    p.add_argument("--state", default=os.environ.get("KCONNECT_BENCH_STATE", "/tmp/kconnect-bench"),
                   help="broker state root (KCONNECT_TEST_STATE of kafka.sh)")
    p.add_argument("--work-dir", default=None, help="data and run files (default STATE/work)")
    p.add_argument("--out", default=None,
                   help="results directory (default bench/results; --quick: STATE/quick-results)")
    a = p.parse_args()
    a.argv = sys.argv[1:]
    if a.quick:
        a.records = 100_000 if "--records" not in sys.argv and "-n" not in sys.argv else a.records
        a.reps = 1 if "--reps" not in sys.argv else a.reps
        a.placement = False
    a.sizes = [int(s) for s in a.sizes.split(",")]
    a.scenarios = a.scenarios.split(",")
    a.systems = a.systems.split(",")
    a.work_dir = a.work_dir or os.path.join(a.state, "work")
    if a.out is None:
        a.out = os.path.join(a.state, "quick-results") if a.quick else os.path.join(ROOT, "bench", "results")
    for exe in (KCONNECT, RAW):
        if not os.path.exists(exe):
            sys.exit(f"{exe} missing: run bench/run.sh (it builds it)")
    if "baseline" in a.systems and not (BASELINE and os.path.exists(BASELINE)):
        sys.exit("the baseline system needs KCONNECT_BENCH_BASELINE=<another kconnect binary>")
    Bench(a).run()


if __name__ == "__main__":
    main()
