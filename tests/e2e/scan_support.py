"""Helpers of test_scan.py: the Trivy fixtures (test root filesystem, fixture DB builder), agents
with their own identities on one stack, a NATS subscriber, the atomic DB directory swap and a
simulated container (its own mount namespace chrooted into a root filesystem, in a cgroup named
as Docker's cgroupfs driver names them)."""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from srstack import REPO, wait_for, write_conf

SPEC = REPO / "testdata" / "scan" / "spec.json"


def trivy_path(what: str) -> Path:
    """scripts/trivy.sh rootfs | fixture-tool: the cached path it prints (built on first use)."""
    env = dict(os.environ)
    env.setdefault("SR_CACHE", str(Path.home() / ".cache" / "serviceradar"))
    r = subprocess.run([str(REPO / "scripts" / "trivy.sh"), what], capture_output=True, text=True, env=env,
                       timeout=1800)
    if r.returncode != 0 or not r.stdout.strip():
        pytest.fail(f"scripts/trivy.sh {what} failed (rc {r.returncode}): {r.stderr[-2000:]}")
    p = Path(r.stdout.strip().splitlines()[-1])
    if not p.exists():
        pytest.fail(f"scripts/trivy.sh {what} printed {p}, which does not exist")
    return p


def build_db(tool: Path, rootfs: Path, spec: Path, out: Path) -> list[dict]:
    """A Trivy DB in out (created) for the advisories of spec; returns the expected findings."""
    expected = out.parent / (out.name + ".expected.json")
    r = subprocess.run([str(tool), "--rootfs", str(rootfs), "--spec", str(spec), "--out", str(out),
                        "--expected", str(expected)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"sr-trivydb-fixture failed: {r.stdout} {r.stderr}"
    return json.loads(expected.read_text())


def dpkg_installed(rootfs: Path) -> dict[str, str]:
    """name -> version of the packages dpkg lists as installed under rootfs."""
    out = {}
    for para in (rootfs / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields = {}
        for line in para.splitlines():
            if line and line[0] not in " \t" and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            out[fields["Package"]] = fields["Version"]
    return out


def drop_dpkg_entry(rootfs: Path, package: str):
    """Removes package's paragraph from rootfs's dpkg status (a new file: rootfs may share inodes)."""
    status = rootfs / "var/lib/dpkg/status"
    paras = status.read_text().split("\n\n")
    kept = [p for p in paras if not any(line == f"Package: {package}" for line in p.splitlines())]
    assert len(kept) == len(paras) - 1, f"{package} is not in {status}"
    tmp = status.with_name("status.sr-new")
    tmp.write_text("\n\n".join(kept))
    os.replace(tmp, status)


# ---- the DB directory swap ----

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_dirs(a: Path, b: Path):
    """Swaps two directories atomically (renameat2 RENAME_EXCHANGE), as the agent installs a DB."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    r = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"could not exchange {a} and {b}: {os.strerror(e)}")


# ---- agents of their own ----

def start_agent(stack, agent_id: str, extra: dict) -> str:
    """Issues a certificate for agent_id and starts an agent with it; returns its process name."""
    cert, key = stack.pki / f"{agent_id}.crt", stack.pki / f"{agent_id}.key"
    if not cert.exists():
        subprocess.run([stack.bin / "serviceradar-pki", "issue-agent", "--dir", str(stack.pki), "--id", agent_id,
                        "--out-cert", str(cert), "--out-key", str(key)], check=True, stdout=subprocess.DEVNULL)
    conf = stack.workdir / f"agent-{agent_id}.conf"
    write_conf(conf, {
        "gateway.address": f"127.0.0.1:{stack.grpc_port}",
        "tls.ca_file": str(stack.pki / "ca.crt"),
        "tls.cert_file": str(cert),
        "tls.key_file": str(key),
        "data_dir": str(stack.workdir / f"agent-{agent_id}"),
        "interval": "5s",
        "heartbeat_interval": "2s",
        "logs.enabled": False,
        **extra,
    })
    name = f"agent-{agent_id}"
    stack._start(name, [str(stack.bin / "serviceradar-agent"), "-c", str(conf)])
    return name


def host_online(stack, agent_id: str) -> bool:
    rows = stack.sql(f"SELECT status FROM hosts WHERE agent_id = '{agent_id}'")
    return bool(rows) and rows[0][0] == "online"


def send_command(stack, agent_id: str, type_: str) -> str:
    wait_for(f"{agent_id} online", lambda: host_online(stack, agent_id), 60)
    return stack.api(f"/api/v1/agents/{agent_id}/commands", "POST", {"type": type_, "payload": {}})["command_id"]


def command_done(stack, cid: str, timeout: float = 60) -> dict:
    return wait_for(f"result of command {cid}", lambda: (lambda c: c if c["status"] in (
        "succeeded", "failed", "expired") else None)(stack.api(f"/api/v1/commands/{cid}")), timeout, 0.1)


def wait_scan(stack, agent_id: str, scan_id: str | None = None, target: str = "host", timeout: float = 120) -> str:
    """Waits until the core has applied the report of a scan (the latest one of target when scan_id is
    None) and stored its SBOM; returns the scan id. Fails at once when the core refused either."""
    cond = f"AND scan_id = '{scan_id}'" if scan_id else ""

    def settled():
        rows = stack.sql(f"SELECT scan_id, report_status, sbom_status, coalesce(error, '') FROM scans "
                         f"WHERE agent_id = '{agent_id}' AND target = '{target}' {cond} "
                         f"ORDER BY finished_at DESC LIMIT 1")
        return rows[0] if rows and "receiving" not in rows[0][1:3] and "" not in rows[0][1:3] else None

    row = wait_for(f"scan {scan_id or ''} of {agent_id} ({target}) applied by the core", settled, timeout, 0.1)
    assert (row[1], row[2]) == ("processed", "stored"), f"the core did not take the scan: {row}"
    return row[0]


def findings(stack, agent_id: str, target: str = "host", status: str = "all") -> list[dict]:
    out, cursor = [], None
    while True:
        q = f"/api/v1/hosts/{agent_id}/findings?status={status}&target={target}&limit=1000"
        page = stack.api(q + (f"&cursor={cursor}" if cursor else ""))
        out += page["findings"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def packages(stack, agent_id: str, target: str = "host") -> list[dict]:
    out, cursor = [], None
    while True:
        q = f"/api/v1/hosts/{agent_id}/packages?target={target}&limit=1000"
        page = stack.api(q + (f"&cursor={cursor}" if cursor else ""))
        out += page["packages"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def key(f: dict) -> tuple:
    """A finding as the fixture tool predicts it: (id, package, installed version, fixed version)."""
    if "vulnerability_id" in f:
        return (f["vulnerability_id"], f["package"]["name"], f["installed_version"], f["fixed_version"])
    return (f["id"], f["pkg_name"], f["installed_version"], f["fixed_version"])


# ---- a NATS subscriber (the core's nats-server, plain protocol) ----

class NatsSub:
    """Subscribes to one subject on a nats-server and keeps the payloads that arrive."""

    def __init__(self, port: int, subject: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.rfile = self.sock.makefile("rb")
        info = self.rfile.readline()
        assert info.startswith(b"INFO "), info
        self.msgs: list[bytes] = []
        self.lock = threading.Lock()
        self.pong = threading.Event()
        self.closed = False
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"test_scan"}\r\n'
                          b"SUB " + subject.encode() + b" 1\r\nPING\r\n")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.pong.wait(10):
            raise AssertionError(f"no PONG from nats-server after SUB {subject}")

    def _read(self):
        try:
            self.sock.settimeout(None)
            while not self.closed:
                line = self.rfile.readline()
                if not line:
                    return
                if line.startswith(b"MSG "):
                    n = int(line.split()[-1])
                    data = self.rfile.read(n + 2)[:n]
                    with self.lock:
                        self.msgs.append(data)
                elif line.startswith(b"PING"):
                    self.sock.sendall(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    self.pong.set()
                elif line.startswith(b"-ERR"):
                    with self.lock:
                        self.msgs.append(b'{"nats_error":' + json.dumps(line.decode(errors="replace")).encode() + b"}")
        except OSError:
            return

    def json_messages(self) -> list[dict]:
        with self.lock:
            return [json.loads(m) for m in self.msgs]

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


# ---- a simulated container ----

CGROUP_PIDS = Path("/sys/fs/cgroup/pids")


class Container:
    """A process in its own mount namespace, chrooted into root, in the cgroup
    /sys/fs/cgroup/pids/docker/<64 hex> (what Docker's cgroupfs driver makes on cgroup v1)."""

    def __init__(self, root: Path):
        self.root = root
        self.id = secrets.token_hex(32)
        self.proc: subprocess.Popen | None = None
        self.made_parent = False
        self.cgroup = CGROUP_PIDS / "docker" / self.id

    def start(self):
        if os.geteuid() != 0:
            pytest.fail("the container test needs root (a cgroup, a mount namespace, chroot); CI runs it as root")
        if not (CGROUP_PIDS / "cgroup.procs").exists():
            pytest.fail(f"the container test needs the cgroup v1 pids controller at {CGROUP_PIDS} "
                        "(the kind of machine CI runs on has it)")
        parent = self.cgroup.parent
        try:
            if not parent.exists():
                parent.mkdir()
                self.made_parent = True
            self.cgroup.mkdir()
        except OSError as e:
            pytest.fail(f"could not create the cgroup {self.cgroup}: {e}")
        # the shell moves itself into the cgroup, then becomes unshare -> chroot -> sleep (one pid)
        self.proc = subprocess.Popen(
            ["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec unshare --mount --propagation private '
             'chroot "$2" /bin/sleep 600', "sh", str(self.cgroup), str(self.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

        def settled():
            if self.proc.poll() is not None:
                raise AssertionError(f"the container process exited ({self.proc.returncode}): "
                                     f"{self.proc.stderr.read().decode(errors='replace')}")
            pid = self.proc.pid
            return (os.readlink(f"/proc/{pid}/root") == str(self.root)
                    and Path(f"/proc/{pid}/comm").read_text().strip() == "sleep"
                    and f"/docker/{self.id}" in Path(f"/proc/{pid}/cgroup").read_text()
                    and os.stat(f"/proc/{pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino)
        try:
            wait_for("the container process chrooted in its own mount namespace", settled, 15, 0.05)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        deadline = time.monotonic() + 10
        while self.cgroup.exists():
            try:
                self.cgroup.rmdir()  # fails with EBUSY until the killed process is gone
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if self.made_parent:
            try:
                self.cgroup.parent.rmdir()
            except OSError:
                pass  # another container appeared under it meanwhile


def copy_rootfs(src: Path, dst: Path):
    """dst: src with hard links (fast, 200+ MB) except var/lib/dpkg, which is a real copy so it can change."""
    if subprocess.run(["cp", "-al", str(src), str(dst)], capture_output=True).returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)  # another file system: a real copy
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    shutil.rmtree(dst / "var/lib/dpkg")
    subprocess.run(["cp", "-a", str(src / "var/lib/dpkg"), str(dst / "var/lib/dpkg")], check=True)
