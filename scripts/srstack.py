"""Start and stop a whole ServiceRadar stack (core with its supervised NATS, gateway, agent) as
separate processes. Used by `make run` (scripts/run.sh), the end-to-end tests and the benchmarks.

Every wait has a deadline; nothing sleeps blindly. Logs go to <workdir>/logs/<name>.log.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, fn, timeout: float, interval: float = 0.2):
    """Polls fn until it returns a truthy value; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


def write_conf(path: Path, values: dict):
    path.write_text("".join(f'{k} = "{v}"\n' if isinstance(v, str) else f"{k} = {v}\n" for k, v in values.items()))


class Stack:
    def __init__(self, build: Path, workdir: Path, *, http_port=None, grpc_port=None, nats_port=None,
                 dbname=None, agent_interval="15s", agent_id=None, pg_port=55432, heartbeat="15s"):
        self.build = Path(build).resolve()
        self.bin = self.build / "bin"
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.nats_port = nats_port or free_port()
        self.pg_port = pg_port
        self.dbname = dbname or f"sr_e2e_{os.getpid()}_{int(time.time() * 1000) % 100000}"
        self.agent_id = agent_id or socket.gethostname()
        self.agent_interval = agent_interval
        self.heartbeat = heartbeat
        self.procs: dict[str, subprocess.Popen] = {}
        self.exit_codes: dict[str, int] = {}  # of processes stopped with SIGTERM
        self.pki = self.workdir / "pki"
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.pg_conninfo = f"host=127.0.0.1 port={self.pg_port} user=postgres dbname={self.dbname}"

    # ---- set-up ----
    def make_pki(self):
        subprocess.run([self.bin / "serviceradar-pki", "ensure-dev", "--dir", str(self.pki),
                        "--agent-id", self.agent_id], check=True, stdout=subprocess.DEVNULL)

    def write_configs(self):
        nats_server = os.environ.get("SR_NATS_SERVER", "")
        core = {
            "data_dir": str(self.workdir / "core"),
            "pg.conninfo": self.pg_conninfo,
            "nats.url": "",
            "nats.port": self.nats_port,
            "http.listen": f"127.0.0.1:{self.http_port}",
            "web.root": str(REPO / "web" / "dist"),
            "pki.dir": str(self.pki),
            "migrations.dir": str(REPO / "migrations"),
        }
        if nats_server:
            core["nats.server_path"] = nats_server
        write_conf(self.workdir / "core.conf", core)
        write_conf(self.workdir / "gateway.conf", {
            "listen": f"127.0.0.1:{self.grpc_port}",
            "tls.ca_file": str(self.pki / "ca.crt"),
            "tls.cert_file": str(self.pki / "gateway.crt"),
            "tls.key_file": str(self.pki / "gateway.key"),
            "tls.crl_file": str(self.pki / "ca.crl"),
            "nats.url": f"nats://127.0.0.1:{self.nats_port}",
            "heartbeat_interval": self.heartbeat,
        })
        write_conf(self.workdir / "agent.conf", {
            "gateway.address": f"127.0.0.1:{self.grpc_port}",
            "tls.ca_file": str(self.pki / "ca.crt"),
            "tls.cert_file": str(self.pki / "agent.crt"),
            "tls.key_file": str(self.pki / "agent.key"),
            "data_dir": str(self.workdir / "agent"),
            "interval": self.agent_interval,
            "heartbeat_interval": self.heartbeat,
        })

    # ---- processes ----
    def _start(self, name: str, argv: list[str]):
        log = open(self.workdir / "logs" / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()

    def start_core(self, wait=True):
        self._start("core", [str(self.bin / "serviceradar-core"), "-c", str(self.workdir / "core.conf")])
        if wait:
            wait_for("core /readyz", lambda: self.http_status("/readyz") == 200, 120)

    def start_gateway(self, wait=True):
        self._start("gateway", [str(self.bin / "agent-gateway"), "-c", str(self.workdir / "gateway.conf")])
        if wait:
            wait_for("gateway port", lambda: self._port_open(self.grpc_port), 30)

    def start_agent(self):
        self._start("agent", [str(self.bin / "serviceradar-agent"), "-c", str(self.workdir / "agent.conf")])

    def start_all(self):
        self.make_pki()
        self.write_configs()
        self.start_core()
        self.start_gateway()
        self.start_agent()

    def stop(self, name: str, sig=signal.SIGTERM, timeout=30.0) -> int | None:
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if sig == signal.SIGTERM:
            self.exit_codes[name] = p.returncode
        return p.returncode

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def stop_all(self) -> dict[str, int]:
        """Stops agent, gateway and core in that order; returns their exit codes."""
        codes = {}
        for name in ("agent", "gateway", "core"):
            rc = self.stop(name)
            if rc is not None:
                codes[name] = rc
        return codes

    def log(self, name: str) -> str:
        try:
            return (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- queries ----
    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def http_status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def api(self, path: str, method="GET", body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def sql(self, query: str) -> list[list[str]]:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", self.dbname,
                              "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def drop_database(self):
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", "postgres",
                        "-Xq", "-c", f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)"],
                       capture_output=True)


def run_foreground(build: Path):
    """`make run`: the stack on the default ports with state in .data/, until Ctrl-C."""
    work = REPO / ".data"
    s = Stack(build, work, http_port=8080, grpc_port=50052, nats_port=4222, dbname="serviceradar")
    for port, what in ((8080, "core HTTP"), (50052, "gateway gRPC"), (4222, "NATS")):
        if Stack._port_open(port):
            raise SystemExit(f"run: port {port} ({what}) is already in use; stop what holds it first")
    stopping = {"flag": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("run: certificates in .data/pki", flush=True)
        s.make_pki()
        s.write_configs()
        print("run: starting core (NATS JetStream on 127.0.0.1:4222, PostgreSQL 127.0.0.1:55432)", flush=True)
        s.start_core()
        print("run: starting gateway on 127.0.0.1:50052", flush=True)
        s.start_gateway()
        print("run: starting agent for this host", flush=True)
        s.start_agent()
        print(f"""
ServiceRadar is running.
  web UI and API   {s.url}/            (hosts appear within one agent interval, 15 s)
  API document     {s.url}/api/v1/openapi.json
  Prometheus       {s.url}/metrics
  logs             {work}/logs/{{core,gateway,agent}}.log
  configs          {work}/{{core,gateway,agent}}.conf
Press Ctrl-C to stop.""", flush=True)
        while not stopping["flag"]:
            for name in ("core", "gateway", "agent"):
                if not s.alive(name):
                    print(f"run: {name} exited unexpectedly; see {work}/logs/{name}.log", flush=True)
                    stopping["flag"] = True
            time.sleep(0.5)
    finally:
        print("run: stopping agent, gateway, core", flush=True)
        s.stop_all()
        print("run: stopped", flush=True)


if __name__ == "__main__":
    import sys
    if len(sys.argv) >= 3 and sys.argv[1] == "run":
        run_foreground(Path(sys.argv[2]))
    else:
        raise SystemExit("usage: srstack.py run BUILD_DIR")
