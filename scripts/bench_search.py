"""`make bench-search`: keyword and field search over a month of realistic security events.

  bench_search.py BUILD

1. Starts the real core (with its supervised NATS JetStream) on the dev PostgreSQL, in a
   database of its own.
2. serviceradar-eventgen publishes SR_BENCH_EVENTS events (default 10,000,000) straight into
   JetStream: ~90% host logs (auth.log / syslog lines from ~500 hosts, as agents upload them
   through the gateway: LogsBatch messages of 500 records on logs.edge) and ~10% Falco alerts
   (one JSON alert per message on security.falco.alerts, as Falcosidekick publishes them). Event
   times cover the 30 days ending now. Ingest rate = events / (first publish -> the core has
   acknowledged every message, i.e. committed every row); then the events table is counted
   (lost, duplicated).
3. VACUUM ANALYZE events (the state autovacuum reaches after a bulk load), then a fixed query set
   through POST /api/v1/query, SR_BENCH_RUNS times each (default 20), round robin, the first
   (cold) round included. Times are measured by the client (HTTP round trip, JSON included);
   the server's own elapsed_ms is shown beside them.
4. A query is "selective" when it matches at most 0.1% of the events (counted afterwards with
   `| stats count()`) and aggregates nothing; the goal p95 <= 100 ms is for those. A run that
   fails (the API's statement timeout answers 503) counts with the time it took and is shown. For a few of them the compiled SQL
   (explain: true) runs again in psql with and without index scans, side by side.
5. Index sizes (hypertable_index_size over every chunk), then the last line
   `bench-search: events=... ingest_eps=... p50_ms=... p95_ms=... max_ms=... index_mb=...`
   (p50/p95/max over every run of the selective queries).

Environment: SR_BENCH_EVENTS (10000000), SR_BENCH_RUNS (20), SR_BENCH_OFFERED_EPS (0 = as fast
as the pipeline takes them), SR_BENCH_REUSE=1 (keep the database, named sr_bench_search, and on
the next run with SR_BENCH_REUSE=1 skip generation and ingest: queries only). Without
SR_BENCH_REUSE the database is dropped at the end.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from srstack import Stack

REUSE_DB = "sr_bench_search"
SELECTIVE_SHARE = 0.001  # at most 0.1% of the events
# Disk per event, measured on this pipeline (PostgreSQL heap + TOAST + indexes incl. the trigram
# ones, JetStream file store: 2.4 KB + 0.43 KB at 1M events, 1.7 KB + 0.43 KB at 10M); used to
# refuse a run that cannot fit. Rounded up.
PG_BYTES_PER_EVENT = 2000
JS_BYTES_PER_EVENT = 500

NEEDLE_SHA256 = "5b1cf2a2b0f3a3f8e9d0e0a4c67c1ed1d1a5e6c2bb5d3a0e7f3f5b7c9d2e4f61"

# (name, SRQL, what it exercises). Fixed: the same set on every run.
QUERIES = [
    ("term", "sudo", "one common word (full text)"),
    ("term_rare", "segfault", "one rare word (full text)"),
    ("phrase", '"Failed password for invalid user"', "a phrase (full text with positions)"),
    ("field", "host:db-03 AND severity:high", "two field filters"),
    ("ip", "src_ip:203.0.113.7", "one address"),
    ("cidr", "src_ip:10.0.0.0/8 time:last_24h", "a network over the last day"),
    ("cve", "CVE-2024-3094", "a CVE id (a needle: a handful of events)"),
    ("hash", NEEDLE_SHA256, "a SHA-256 (a needle)"),
    ("path", '"/etc/shadow"', "a file path"),
    ("last_1h", "time:last_1h program:sshd outcome:failure", "failed sshd events of the last hour"),
    ("aggregation", '"Failed password" time:last_24h | stats count() by src_ip | sort count desc | head 10',
     "top attacking addresses of the last day"),
    ("negation", "host:bastion-01 AND outcome:failure AND NOT user:root", "a negated field"),
    ("falco_k8s", "type:falco_alert AND k8s.namespace:production", "Falco alerts of one namespace"),
]
# Compared with and without index scans (compiled SQL run in psql).
NO_INDEX = ["ip", "cve", "field", "term_rare"]


def log(msg: str):
    print(f"bench-search: {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it
    (p95 of 20 runs is the 19th fastest)."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100.0 * len(v) - 1e-9) - 1))
    return v[k]


def df_report(paths: list[Path]) -> int:
    free = None
    seen = set()
    for p in paths:
        p = p if p.exists() else p.parent
        st = os.statvfs(p)
        if st.f_fsid in seen:
            continue
        seen.add(st.f_fsid)
        u = shutil.disk_usage(p)
        log(f"disk {p}: {u.free / 2**30:.1f} GiB free of {u.total / 2**30:.1f} GiB")
        free = u.free if free is None else min(free, u.free)
    return free or 0


def start_core(s: Stack) -> bool:
    """Starts the core; False when it exits before it is ready (a kept database whose schema no
    longer matches the migrations, for instance)."""
    s.start_core(wait=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not s.alive("core"):
            s.stop("core")
            return False
        try:
            if s.http_status("/readyz") == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench-search: core not ready after 120 s; see {s.workdir}/logs/core.log")


def query(s: Stack, q: str, **extra) -> tuple[float, dict | None, str]:
    """(client ms, body, error). error is "" on 200, else the status and the server's message (a
    query over the API's statement timeout answers 503); a 400 (the SRQL does not compile) ends
    the benchmark."""
    body = json.dumps({"query": q, **extra}).encode()
    req = urllib.request.Request(s.url + "/api/v1/query", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            data = r.read()
    except urllib.error.HTTPError as e:
        ms = (time.perf_counter() - t0) * 1000.0
        text = e.read()[:300].decode(errors="replace")
        if e.code == 400:
            raise SystemExit(f"bench-search: query {q!r} refused: {text}")
        return ms, None, f"HTTP {e.code}: {text}"
    ms = (time.perf_counter() - t0) * 1000.0
    return ms, json.loads(data), ""


def psql(s: Stack, script: str, timeout: float = 3600) -> str:
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(s.pg_port), "-U", "postgres", "-d", s.dbname, "-X",
                        "-v", "ON_ERROR_STOP=1", "-q"], input=script, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"bench-search: psql failed: {r.stderr.strip()[:800]}")
    return r.stdout


def admin_sql(s: Stack, q: str) -> list[list[str]]:
    """A query in the maintenance database (the bench database may not exist yet)."""
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(s.pg_port), "-U", "postgres", "-d", "postgres",
                          "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", q],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def sql_literal(v) -> str:
    if v is None:
        return "NULL"
    return "'" + str(v).replace("'", "''") + "'"


class CpuSampler(threading.Thread):
    """CPU seconds spent during ingest by each part: this database's PostgreSQL backends (the
    core's connections, autovacuum), the core, its nats-server, the generator; and the machine as
    a whole (other users' processes included), read from /proc every 2 s."""

    def __init__(self, s: Stack, gen_pid_fn):
        super().__init__(daemon=True)
        self.s, self.gen_pid_fn = s, gen_pid_fn
        self.stop_evt = threading.Event()
        self.hz = os.sysconf("SC_CLK_TCK")
        self.boot_ticks = self._uptime_ticks()
        self.t0 = self._machine()
        self.first: dict[int, int] = {}  # pid -> ticks at first sight (0 when it started after us)
        self.last: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.nats = self._find_nats()

    def _uptime_ticks(self) -> int:
        with open("/proc/uptime") as f:
            return int(float(f.read().split()[0]) * self.hz)

    @staticmethod
    def _machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait

    def _find_nats(self) -> int | None:
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if "nats-server" in cmd and str(self.s.workdir) in cmd:
                    return int(d.name)
        return None

    def _ticks(self, pid: int) -> tuple[int, int] | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[11]) + int(fields[12]), int(fields[19])  # utime + stime, starttime

    def _note(self, pid: int, kind: str):
        t = self._ticks(pid)
        if t is None:
            return
        ticks, start = t
        if pid not in self.first:
            self.first[pid] = 0 if start >= self.boot_ticks else ticks
            self.kind[pid] = kind
        self.last[pid] = ticks

    def sample(self):
        try:
            pids = [int(r[0]) for r in self.s.sql("SELECT pid FROM pg_stat_activity WHERE datname = "
                                                  "current_database() AND pid <> pg_backend_pid()")]
        except subprocess.CalledProcessError:
            pids = []
        for pid in pids:
            self._note(pid, "postgres")
        if self.s.alive("core"):
            self._note(self.s.procs["core"].pid, "core")
        if self.nats:
            self._note(self.nats, "nats-server")
        g = self.gen_pid_fn()
        if g:
            self._note(g, "eventgen")

    def run(self):
        while not self.stop_evt.wait(2.0):
            self.sample()

    def report(self) -> str:
        self.stop_evt.set()
        self.join()
        self.sample()
        t1 = self._machine()
        per: dict[str, float] = {}
        for pid, kind in self.kind.items():
            per[kind] = per.get(kind, 0.0) + (self.last[pid] - self.first[pid]) / self.hz
        total = (t1[0] - self.t0[0]) / self.hz
        busy = total - (t1[1] - self.t0[1]) / self.hz
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
        return (f"cpu during ingest: {parts}; the machine was busy {busy:.0f} of {total:.0f} cpu-seconds "
                f"({busy / total:.0%}; other users' processes included)")


def run_eventgen(s: Stack, events: int, offered: float) -> dict:
    argv = [str(s.bin / "serviceradar-eventgen"), "--nats", f"nats://127.0.0.1:{s.nats_port}", "--pg",
            s.pg_conninfo, "--events", str(events), "--stall", "300s"]
    if offered > 0:
        argv += ["--rate", f"{offered:.0f}"]
    holder: dict[str, subprocess.Popen] = {}
    sampler = CpuSampler(s, lambda: holder["p"].pid if "p" in holder and holder["p"].poll() is None else None)
    p = holder["p"] = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    sampler.start()
    last = ""
    for line in p.stdout:
        print(line, end="", flush=True)
        if line.startswith("eventgen: events="):
            last = line
    rc = p.wait()
    log(sampler.report())
    store = s.workdir / "core" / "nats"
    js_bytes = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) if store.exists() else 0
    log(f"jetstream store after ingest: {js_bytes / 2**30:.2f} GiB")
    if not last:
        raise SystemExit(f"bench-search: serviceradar-eventgen failed ({rc}) before counting; core log: "
                         f"{s.workdir}/logs/core.log")
    figures = dict(kv.split("=", 1) for kv in last.split(":", 1)[1].split())
    figures["rc"] = str(rc)
    return figures


def ingest(s: Stack, events: int, offered: float) -> dict:
    log(f"generating and publishing {events} events (host logs + Falco alerts over the last 30 days)")
    g = run_eventgen(s, events, offered)
    if g["rc"] != "0":
        log(f"warning: ingest incomplete: lost={g['lost']} dup={g['dup']} dead_letters={g['dead_letters']} "
            f"(core log: {s.workdir}/logs/core.log)")
    trigram_indexes(s)
    t0 = time.monotonic()
    psql(s, "VACUUM (ANALYZE) events;")
    log(f"VACUUM ANALYZE events took {time.monotonic() - t0:.1f} s")
    meta = {k: g[k] for k in ("events", "ingest_eps", "ingest_s", "stored", "lost", "dup", "dead_letters",
                              "needle_cve", "needle_sha256")}
    meta["generated_at"] = int(time.time())
    return meta


def trigram_indexes(s: Stack):
    """What the core's events_trgm_index job does for each chunk once it is closed (an hour after
    its day ended): a trigram GIN on message. Built here for every closed chunk, with the job's own
    statements, so that queries and index sizes see the steady state."""
    if s.sql("SELECT to_regprocedure('events_trgm_pending(timestamptz,integer)') IS NOT NULL")[0][0] != "t":
        return
    rows = s.sql("SELECT drop_sql, create_sql FROM events_trgm_pending(now() - interval '1 hour', 100000)")
    t0 = time.monotonic()
    for drop_sql, create_sql in rows:
        for stmt in (drop_sql, create_sql):
            if stmt:
                psql(s, stmt + ";")
    log(f"trigram indexes of {len(rows)} closed chunks built in {time.monotonic() - t0:.1f} s "
        f"(the events_trgm_index job's statements)")


def run_queries(s: Stack, runs: int) -> dict:
    res = {name: {"client": [], "server": [], "rows": 0, "errors": 0, "error": ""} for name, _, _ in QUERIES}
    log(f"running {len(QUERIES)} queries x {runs}, round robin (first round cold)")
    for i in range(runs):
        for name, q, _ in QUERIES:
            ms, body, err = query(s, q)
            r = res[name]
            r["client"].append(ms)
            if err:
                r["errors"] += 1
                r["error"] = err
            else:
                r["server"].append(float(body.get("elapsed_ms", 0)))
                r["rows"] = len(body.get("rows", []))
        if runs >= 5 and (i + 1) % 5 == 0:
            log(f"  round {i + 1}/{runs} done")
    for name, q, _ in QUERIES:
        filt = q.split("|", 1)[0].strip()
        _, body, err = query(s, filt + " | stats count()")
        rows = (body or {}).get("rows") or []
        res[name]["matches"] = int(rows[0][-1]) if rows and rows[0] else -1  # -1: could not count
        if err:
            log(f"could not count the matches of {name}: {err}")
    return res


def no_index(s: Stack, names: list[str]) -> list[tuple[str, float, float, int]]:
    out = []
    for name in names:
        q = next(x[1] for x in QUERIES if x[0] == name)
        _, body, err = query(s, q, explain=True)
        ex = (body or {}).get("explain") or {}
        sql, params = ex.get("sql"), ex.get("params", [])
        if not sql:
            log(f"no SQL from explain for {name}; skipped")
            continue
        execute = f"EXECUTE q({', '.join(sql_literal(p) for p in params)});" if params else "EXECUTE q;"
        script = (f"SET statement_timeout = '600s';\nPREPARE q AS {sql};\n\\timing on\n"
                  + (execute + "\n") * 3
                  + "SET enable_indexscan = off;\nSET enable_bitmapscan = off;\nSET enable_indexonlyscan = off;\n"
                  + (execute + "\n") * 2)
        times = [float(line.split()[1]) for line in psql(s, script).splitlines() if line.startswith("Time: ")]
        # the SET lines are timed too: keep the EXECUTE times (3 with indexes, 2 without)
        ex_times = [t for i, t in enumerate(times) if i < 3 or i >= 6]
        if len(ex_times) < 5:
            log(f"could not time {name}: {times}")
            continue
        out.append((name, sorted(ex_times[:3])[1], min(ex_times[3:]), len(params)))
    return out


def index_sizes(s: Stack) -> tuple[list[tuple[str, int]], dict]:
    names = [r[0] for r in s.sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = "
                                 "'events' ORDER BY indexname")]
    sizes = [(n, int(s.sql(f"SELECT hypertable_index_size('{n}')")[0][0] or 0)) for n in names]
    row = s.sql("SELECT table_bytes, index_bytes, toast_bytes, total_bytes FROM hypertable_detailed_size('events')")[0]
    detail = dict(zip(("table", "index", "toast", "total"), (int(x or 0) for x in row)))
    return sizes, detail


def main(build: Path):
    events = int(os.environ.get("SR_BENCH_EVENTS", "10000000"))
    runs = int(os.environ.get("SR_BENCH_RUNS", "20"))
    offered = float(os.environ.get("SR_BENCH_OFFERED_EPS", "0"))
    reuse = os.environ.get("SR_BENCH_REUSE", "") not in ("", "0")
    cache = Path(os.environ.get("SR_CACHE", Path.home() / ".cache" / "serviceradar"))
    pgdata = cache / "rootfs-trixie" / "var" / "lib" / "serviceradar" / "pg"
    with tempfile.TemporaryDirectory(prefix="sr-bench-search-") as tmp:
        s = Stack(build, Path(tmp), dbname=REUSE_DB if reuse else None)
        free = df_report([Path(tmp), pgdata])
        keep = False
        try:
            have = reuse and bool(admin_sql(s, f"SELECT 1 FROM pg_database WHERE datname = '{REUSE_DB}'"))
            s.make_pki()
            s.write_configs()
            with open(s.workdir / "core.conf", "a") as f:
                # A 30-day backfill closes 30 chunks within minutes, which never happens live (one closes
                # a day): the trigram job would build 4 indexes every 10 minutes during the benchmark.
                # It stays idle here; the indexes of all closed chunks are built after ingest instead.
                f.write('jobs.events_trgm_index.interval = "24h"\n')
            meta = None
            if have:
                comment = admin_sql(s, f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE "
                                       f"datname = '{REUSE_DB}'")
                try:
                    meta = json.loads(comment[0][0]) if comment and comment[0][0] else None
                except (ValueError, IndexError):
                    meta = None
                if not meta:
                    log(f"database {REUSE_DB} has no figures from a previous ingest; ingesting anew")
                elif not start_core(s):
                    log(f"the core does not start on the kept database {REUSE_DB} (see its log: migrations "
                        f"changed?); ingesting anew")
                    meta = None
                else:
                    age_h = (time.time() - meta["generated_at"]) / 3600
                    log(f"reusing database {REUSE_DB}: {meta['events']} events generated {age_h:.1f} h ago "
                        f"(relative time ranges see data that much older)")
                if not meta:
                    s.drop_database()
            if not meta:
                need = events * (PG_BYTES_PER_EVENT + JS_BYTES_PER_EVENT)
                log(f"{events} events need about {need / 2**30:.1f} GiB of disk")
                if need > free:
                    raise SystemExit(f"bench-search: not enough disk: {free / 2**30:.1f} GiB free")
                if not start_core(s):
                    raise SystemExit("bench-search: the core did not start")
                meta = ingest(s, events, offered)
                s.sql(f"COMMENT ON DATABASE {s.dbname} IS {sql_literal(json.dumps(meta))}")
            keep = reuse
            log(f"database size {int(s.sql(f'SELECT pg_database_size({sql_literal(s.dbname)})')[0][0]) / 2**30:.2f} "
                f"GiB; events {meta['stored']} stored, lost={meta['lost']} dup={meta['dup']} "
                f"dead_letters={meta['dead_letters']}; ingest {float(meta['ingest_eps']):.0f} events/s")

            res = run_queries(s, runs)
            total = int(meta["stored"]) if int(meta["stored"]) > 0 else events
            newest = s.sql("SELECT extract(epoch FROM now() - max(time))::int FROM events")[0][0]
            log(f"the newest event is {int(newest or 0) // 60} min old")
            print(f"\n{'query':<12} {'sel':>3} {'matches':>9} {'rows':>5} {'p50_ms':>8} {'p95_ms':>8} {'max_ms':>8} "
                  f"{'srv_p50':>8} {'err':>3}  srql")
            selective_times: list[float] = []
            selective_names = []
            for name, q, _ in QUERIES:
                r = res[name]
                sel = 0 <= r["matches"] <= SELECTIVE_SHARE * total and "|" not in q
                if sel:
                    selective_times += r["client"]
                    selective_names.append(name)
                print(f"{name:<12} {'yes' if sel else 'no':>3} {r['matches']:>9} {r['rows']:>5} "
                      f"{pct(r['client'], 50):>8.1f} {pct(r['client'], 95):>8.1f} {max(r['client']):>8.1f} "
                      f"{pct(r['server'], 50):>8.1f} {r['errors']:>3}  {q}")
                if r["errors"]:
                    print(f"{'':<12} last error: {r['error']}")
            print(flush=True)
            log(f"selective (matching <= {SELECTIVE_SHARE:.1%} of {total} events, no aggregation): "
                f"{', '.join(selective_names) or 'none'}")

            log("compiled SQL in psql, median of 3 with indexes vs best of 2 with index and bitmap scans off:")
            for name, with_ms, without_ms, _ in no_index(s, NO_INDEX):
                print(f"  {name:<12} with indexes {with_ms:>9.1f} ms   without {without_ms:>10.1f} ms   "
                      f"x{without_ms / max(with_ms, 0.001):.0f}", flush=True)

            sizes, detail = index_sizes(s)
            log("index sizes (all chunks):")
            for n, b in sizes:
                print(f"  {n:<24} {b / 2**20:>9.1f} MiB")
            trgm = s.sql("SELECT count(*), coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
                         "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE '%\\_message\\_trgm'")[0]
            if int(trgm[0]):
                print(f"  {'message trigram':<24} {int(trgm[1]) / 2**20:>9.1f} MiB  ({trgm[0]} closed chunks)")
            print(f"  heap {detail['table'] / 2**20:.1f} MiB, toast {detail['toast'] / 2**20:.1f} MiB, indexes "
                  f"{detail['index'] / 2**20:.1f} MiB, total {detail['total'] / 2**20:.1f} MiB", flush=True)
            print(f"bench-search: events={meta['stored']} ingest_eps={float(meta['ingest_eps']):.0f} "
                  f"p50_ms={pct(selective_times, 50):.1f} p95_ms={pct(selective_times, 95):.1f} "
                  f"max_ms={max(selective_times) if selective_times else float('nan'):.1f} "
                  f"index_mb={detail['index'] / 2**20:.0f}", flush=True)
        except BaseException:
            core_log = s.workdir / "logs" / "core.log"
            if core_log.exists():
                saved = Path(tempfile.gettempdir()) / "sr-bench-search-core.log"
                shutil.copyfile(core_log, saved)
                log(f"failed; the core's log is kept in {saved}")
            raise
        finally:
            s.stop_all()
            if keep:
                log(f"kept database {REUSE_DB} (SR_BENCH_REUSE=1); drop it with: "
                    f"psql -h 127.0.0.1 -p {s.pg_port} -U postgres -c 'DROP DATABASE {REUSE_DB}'")
            else:
                s.drop_database()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
