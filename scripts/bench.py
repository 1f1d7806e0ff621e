"""Benchmarks over a real stack (never run by `make test`). Each prints figures and, as its last
line, `name: key=value ...`.

  bench.py ingest BUILD   simulated agents -> gateway -> JetStream -> core -> PostgreSQL
  bench.py agent BUILD    the agent's idle footprint over 2 minutes at the default 15 s interval
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from srstack import Stack, wait_for


def ingest(build: Path):
    agents = int(os.environ.get("SR_BENCH_AGENTS", "16"))
    batches = int(os.environ.get("SR_BENCH_BATCHES", "250"))
    points = int(os.environ.get("SR_BENCH_POINTS", "500"))
    per_call = int(os.environ.get("SR_BENCH_PER_CALL", "8"))
    # Offered load in points/s (the goal is 100,000 sustained): latency is only meaningful at a
    # rate the pipeline is asked to sustain; 0 = as fast as possible (throughput ceiling, latency
    # then measures the backlog).
    offered = float(os.environ.get("SR_BENCH_OFFERED_PPS", "100000"))
    rate = offered / (agents * points) if offered > 0 else 0.0
    with tempfile.TemporaryDirectory(prefix="sr-bench-ingest-") as tmp:
        s = Stack(build, Path(tmp))
        try:
            s.make_pki()
            s.write_configs()
            s.start_core()
            s.start_gateway()
            load = f"offered load {offered:.0f} points/s" if offered > 0 else "unpaced"
            print(f"bench-ingest: issuing {agents} agent certificates; {load}", flush=True)
            for i in range(1, agents + 1):
                name = f"loadgen-{i}"
                subprocess.run([s.bin / "serviceradar-pki", "issue-agent", "--dir", str(s.pki), "--id", name,
                                "--out-cert", str(s.pki / f"{name}.crt"), "--out-key", str(s.pki / f"{name}.key")],
                               check=True, stdout=subprocess.DEVNULL)
            r = subprocess.run([s.bin / "serviceradar-loadgen", "--gateway", f"127.0.0.1:{s.grpc_port}",
                                "--ca", str(s.pki / "ca.crt"), "--certs", str(s.pki), "--pg", s.pg_conninfo,
                                "--agents", str(agents), "--batches", str(batches), "--points", str(points),
                                "--per-call", str(per_call), "--rate", f"{rate:.3f}"], text=True)
            if r.returncode not in (0, 3):
                raise SystemExit(f"bench-ingest: load generator failed ({r.returncode}); logs in {tmp}/logs")
        finally:
            s.stop_all()
            s.drop_database()


def proc_stat(pid: int) -> tuple[int, int]:
    """(utime+stime ticks, rss bytes)"""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return ticks, rss


def agent(build: Path):
    seconds = int(os.environ.get("SR_BENCH_AGENT_SECONDS", "120"))
    with tempfile.TemporaryDirectory(prefix="sr-bench-agent-") as tmp:
        s = Stack(build, Path(tmp), agent_interval="15s")
        try:
            s.start_all()
            wait_for("agent's first batch stored",
                     lambda: int(s.sql("SELECT count(*) FROM ingest_batches")[0][0]) >= 1, 60)
            pid = s.procs["agent"].pid
            hz = os.sysconf("SC_CLK_TCK")
            t0, _ = proc_stat(pid)
            start = time.monotonic()
            peak = 0
            print(f"bench-agent: sampling pid {pid} for {seconds} s", flush=True)
            while time.monotonic() - start < seconds:
                _, rss = proc_stat(pid)
                peak = max(peak, rss)
                time.sleep(1)
            t1, rss = proc_stat(pid)
            elapsed = time.monotonic() - start
            cpu_pct = 100.0 * (t1 - t0) / hz / elapsed
            stored = int(s.sql("SELECT count(*) FROM ingest_batches")[0][0])
            print(f"batches_stored={stored} rss_now_mb={rss / 1048576:.1f} cpu_ticks={t1 - t0} seconds={elapsed:.0f}")
            print(f"bench-agent: rss_mb={peak / 1048576:.1f} cpu_pct={cpu_pct:.2f}", flush=True)
        finally:
            s.stop_all()
            s.drop_database()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("ingest", "agent"):
        raise SystemExit(__doc__)
    {"ingest": ingest, "agent": agent}[sys.argv[1]](Path(sys.argv[2]))
