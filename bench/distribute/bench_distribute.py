"""bench-distribute: a Trivy DB bundle (100 MiB by default) from the gateway to N agents over
loopback: nats-server, the real agent-gateway and N serviceradar-agent processes with mTLS
certificates (tests/support/gencerts.sh). The bundle goes into the Object Store and its version
into KV artifacts/trivy-db with the official nats CLI (scripts/tools.sh), as the core's job does.

Per agent: the download + verification time its log reports ("N bytes verified ... in S s"),
from the Download call to the whole-file SHA-256 check. Total: from the KV put until the last agent
has installed the version. The bundle is a real Trivy DB made by sr-trivydb-fixture
(scripts/trivy.sh fixture-tool) for the test root filesystem, padded to the size with --pad-mb, and
the agents install it with the real installer (the Trivy bridge, a build with SR_TRIVY); scans are
off (scan.enabled = false), so this measures distribution and installation, not scanning. Each
agent's installed trivy.db is checked against the bundle's after the clock stops.

  python3 bench/distribute/bench_distribute.py BUILD
  env: SR_BENCH_AGENTS (10), SR_BENCH_MB (100), SR_NATS_SERVER, SR_CACHE
Last line: bench-distribute: agents=N verified=N mb_per_s=<mean per agent> ...
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"bench-distribute: nothing listens on port {port}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def helper(what: str) -> str:
    """A path printed by scripts/trivy.sh (fixture-tool, rootfs); built or found in the cache."""
    return subprocess.run([str(REPO / "scripts/trivy.sh"), what], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def main():
    build = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    n = int(os.environ.get("SR_BENCH_AGENTS", "10"))
    mb = int(os.environ.get("SR_BENCH_MB", "100"))
    nats_server = os.environ.get("SR_NATS_SERVER") or "nats-server"
    cli_dir = subprocess.run([str(REPO / "scripts/tools.sh"), "nats"], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
    nats_cli = str(Path(cli_dir) / "nats")
    tool, rootfs = helper("fixture-tool"), helper("rootfs")
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="sr-bench-distribute-") as tmp:
        t = Path(tmp)
        try:
            ids = [f"bench-agent-{i:02d}" for i in range(n)]
            subprocess.run(["bash", str(REPO / "tests/support/gencerts.sh"), str(t / "pki"), *ids], check=True,
                           stdout=subprocess.DEVNULL)
            # the bundle: a real Trivy DB for the test root filesystem, padded with random data (which
            # gzip cannot shrink, so the tar.gz is about that large)
            bundle = t / "db.tar.gz"
            subprocess.run([tool, "--rootfs", rootfs, "--spec", str(REPO / "testdata/scan/spec.json"), "--out",
                            str(t / "b"), "--pad-mb", str(mb), "--bundle", str(bundle)], check=True,
                           stdout=subprocess.DEVNULL)
            hexd, size = sha256_file(bundle), bundle.stat().st_size
            version = "sha256:" + hexd
            db_hex = sha256_file(t / "b/trivy.db")

            nport, gport = free_port(), free_port()
            logs = t / "logs"
            logs.mkdir()

            def start(name, argv, env=None):
                log = open(logs / f"{name}.log", "ab")
                p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
                log.close()
                procs.append(p)
                return p

            start("nats", [nats_server, "-a", "127.0.0.1", "-p", str(nport), "-js", "-sd", str(t / "js")])
            wait_port(nport, 15)
            url = f"nats://127.0.0.1:{nport}"
            pki = t / "pki"
            (t / "gateway.conf").write_text(
                f'listen = "127.0.0.1:{gport}"\ntls.ca_file = "{pki}/ca.crt"\ntls.cert_file = "{pki}/gateway.crt"\n'
                f'tls.key_file = "{pki}/gateway.key"\nnats.url = "{url}"\nheartbeat_interval = "5s"\n'
                f'artifact.cache_dir = "{t}/gw-cache"\nartifact.retry_interval = "500ms"\n')
            start("gateway", [str(build / "bin/agent-gateway"), "-c", str(t / "gateway.conf")])
            wait_port(gport, 20)
            for i, aid in enumerate(ids):
                d = t / aid
                d.mkdir()
                (t / f"{aid}.conf").write_text(
                    f'gateway.address = "127.0.0.1:{gport}"\ntls.ca_file = "{pki}/ca.crt"\n'
                    f'tls.cert_file = "{pki}/{aid}.crt"\ntls.key_file = "{pki}/{aid}.key"\ndata_dir = "{d}"\n'
                    f'interval = "60s"\nheartbeat_interval = "5s"\nlogs.enabled = false\nscan.enabled = false\n')
                start(aid, [str(build / "bin/serviceradar-agent"), "-c", str(t / f"{aid}.conf")])
            # every agent connected before the version is announced: all download at once
            end = time.monotonic() + 60
            while (logs / "gateway.log").read_text(errors="replace").count("connected (host") < n:
                if time.monotonic() > end:
                    raise SystemExit("bench-distribute: not every agent connected")
                time.sleep(0.2)

            def cli(*args):
                subprocess.run([nats_cli, "--server", url, *args], check=True, stdout=subprocess.DEVNULL)

            cli("object", "add", "artifacts")
            cli("object", "put", "artifacts", str(bundle), "--name", "trivy-db", "--force")
            cli("kv", "add", "artifacts", "--history", "5")
            doc = json.dumps({"event": "trivy_db_update", "name": "trivy-db", "version": version, "sha256": hexd,
                              "size": size, "bucket": "artifacts", "object": "trivy-db", "source": "bench",
                              "updated_unix_ms": int(time.time() * 1000)})
            t0 = time.monotonic()
            cli("kv", "put", "artifacts", "trivy-db", doc)

            def installed(aid):
                p = t / aid / "artifacts/trivy-db.installed"
                return p.exists() and version in p.read_text()

            end = time.monotonic() + 300
            while not all(installed(a) for a in ids):
                if time.monotonic() > end:
                    raise SystemExit("bench-distribute: not every agent installed the bundle within 300 s "
                                     "(the agent needs the Trivy bridge: a build with SR_TRIVY=ON)")
                for a in ids:
                    if "could not install trivy-db" in (logs / f"{a}.log").read_text(errors="replace"):
                        raise SystemExit(f"bench-distribute: {a} could not install the bundle: "
                                         + (logs / f"{a}.log").read_text(errors="replace")[-2000:])
                time.sleep(0.05)
            total = time.monotonic() - t0
            bad = [a for a in ids if sha256_file(t / a / "trivy/db/trivy.db") != db_hex]
            if bad:
                raise SystemExit(f"bench-distribute: installed trivy.db differs from the bundle's on {bad}")
            secs = {}
            rx = re.compile(r"bytes verified \((\d+) fetched from offset (\d+).*\) in ([0-9.]+) s")
            for aid in ids:
                m = rx.search((logs / f"{aid}.log").read_text(errors="replace"))
                if m:
                    secs[aid] = float(m.group(3))
            gwlog = (logs / "gateway.log").read_text(errors="replace")
            fetched = re.search(r"fetched trivy-db \S+ \((\d+) bytes\) from \S+ in (\d+) ms", gwlog)
            rates = [size / 1e6 / s for s in secs.values() if s > 0]
            slow = max(secs, key=secs.get)
            print(f"bundle: {size / 1e6:.1f} MB ({version[:19]}…), {n} agents, loopback, mTLS")
            if fetched:
                print(f"gateway: Object Store -> cache in {int(fetched.group(2)) / 1000:.2f} s")
            for aid in ids:
                print(f"  {aid}: {secs.get(aid, float('nan')):.2f} s download + verify "
                      f"({size / 1e6 / secs[aid] if secs.get(aid) else float('nan'):.1f} MB/s)")
            print(f"total (KV put -> last agent installed): {total:.2f} s; slowest agent {slow} {secs[slow]:.2f} s")
            print(f"bench-distribute: agents={n} verified={len(secs)} mb_per_s={statistics.mean(rates):.1f} "
                  f"min_mb_per_s={min(rates):.1f} slowest_s={secs[slow]:.2f} total_s={total:.2f} "
                  f"aggregate_mb_per_s={size * n / 1e6 / total:.1f} bundle_mb={size / 1e6:.1f}")
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in reversed(procs):
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
