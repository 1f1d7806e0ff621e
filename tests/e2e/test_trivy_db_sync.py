"""The core's trivy_db_sync job end to end: the real serviceradar-core (its job runner, PostgreSQL,
its supervised nats-server) against an OCI registry and an HTTP mirror that this test serves
itself (the distribution API with the bearer-token flow, a blob redirected to another host, a
mirror with db.tar.gz and db.tar.gz.sha256). What the core stored is read back with the official
nats CLI (nats.go): the object's SHA-256 and the KV signal."""
from __future__ import annotations

import base64
import collections
import gzip
import hashlib
import io
import json
import os
import random
import re
import signal
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srstack import REPO, wait_for

JOB = "trivy_db_sync"
REPO_NAME = "aquasecurity/trivy-db"
TRIVY_LAYER = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
USER, PASSWORD = "robot", "s3cret-pw"


# ---- fixtures: bundles, certificates, the nats CLI ----

def make_bundle(seed: int, size: int) -> bytes:
    """A db.tar.gz as trivy-db publishes it (trivy.db + metadata.json), random so it does not compress."""
    body = random.Random(seed).randbytes(size)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, content in (("trivy.db", body),
                              ("metadata.json", json.dumps({"Version": 2, "seed": seed}).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(data.getvalue(), compresslevel=1, mtime=0)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 and localhost."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "ca.key"),
        "-out", str(d / "ca.crt"), "-days", "2", "-subj", "/CN=trivy-db test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "srv.key"),
        "-out", str(d / "srv.csr"), "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-out", str(d / "srv.crt"), "-days", "2", "-extfile", str(d / "ext.cnf"))
    return d / "ca.crt", d / "srv.crt", d / "srv.key"


def nats_cli() -> str:
    env = os.environ.get("SR_NATS_CLI")
    if env:
        return env
    out = subprocess.run([str(REPO / "scripts" / "tools.sh"), "nats"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"the nats CLI is required: scripts/tools.sh nats failed: {out.stderr[-500:]}")
    return str(Path(out.stdout.strip().splitlines()[-1]) / "nats")


# ---- the servers ----

class Server:
    """A threaded HTTP(S) server on a free loopback port."""

    def __init__(self, handler, tls: tuple[Path, Path] | None = None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Handler(BaseHTTPRequestHandler):
    state = None  # set per server class

    def log_message(self, *args):
        pass

    def reply(self, code: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


class Registry:
    """The OCI distribution API: manifests by tag, blobs by digest (redirected to a second host),
    and a token endpoint that wants basic credentials. `auth` picks how a request without a
    valid token is answered: "bearer" (the token flow), "none" (no auth at all), "no-challenge"
    (401 without WWW-Authenticate), "negotiate" (401 with a scheme we do not speak)."""

    def __init__(self, tls):
        self.lock = threading.Lock()
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.corrupt: set[str] = set()  # digests the blob host serves with a flipped byte
        self.auth = "bearer"
        self.counts = collections.Counter()
        self.blob_host_auth: list[str | None] = []
        self.tokens: set[str] = set()
        reg = self

        class RegistryHandler(Handler):
            def do_GET(self):
                reg.registry_get(self)

        class BlobHandler(Handler):
            def do_GET(self):
                reg.blobhost_get(self)

        self.server = Server(RegistryHandler, tls)
        self.blob_server = Server(BlobHandler, tls)
        self.realm = f"https://127.0.0.1:{self.server.port}/token"

    def close(self):
        self.server.close()
        self.blob_server.close()

    def push(self, tag: str, bundle: bytes, *, layer_type=TRIVY_LAYER, size=None, layers=1, index=False) -> str:
        digest = "sha256:" + sha(bundle)
        layer = {"mediaType": layer_type, "digest": digest, "size": len(bundle) if size is None else size,
                 "annotations": {"org.opencontainers.image.title": "db.tar.gz"}}
        if index:
            doc = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                   "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": 500}]}
        else:
            doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "artifactType": "application/vnd.aquasec.trivy.config.v1+json",
                   "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                              "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                              "size": 2, "data": "e30="},
                   "layers": [layer] * layers}
        with self.lock:
            self.manifests[tag] = (doc["mediaType"], json.dumps(doc).encode())
            self.blobs[digest] = bundle
        return digest

    def authorized(self, h) -> bool:
        if self.auth == "none":
            return True
        got = h.headers.get("Authorization", "")
        return got.startswith("Bearer ") and got[7:] in self.tokens and self.auth == "bearer"

    def refuse(self, h):
        scope = f"repository:{REPO_NAME}:pull"
        if self.auth == "bearer":
            h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="{self.realm}",service="test-registry",scope="{scope}"'})
        elif self.auth == "negotiate":
            h.reply(401, b"", {"WWW-Authenticate": "Negotiate"})
        else:
            h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')

    def registry_get(self, h):
        u = urllib.parse.urlsplit(h.path)
        if u.path == "/token":
            q = urllib.parse.parse_qs(u.query)
            with self.lock:
                self.counts["token"] += 1
            want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if h.headers.get("Authorization") != want:
                return h.reply(401, b'{"details":"bad credentials"}')
            if q.get("service") != ["test-registry"] or q.get("scope") != [f"repository:{REPO_NAME}:pull"]:
                return h.reply(400, b'{"details":"bad scope"}')
            tok = f"tok-{len(self.tokens) + 1}"
            with self.lock:
                self.tokens.add(tok)
            return h.reply(200, json.dumps({"token": tok, "expires_in": 300}).encode(),
                           {"Content-Type": "application/json"})
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", u.path)
        if not m or m.group(1) != REPO_NAME:
            return h.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        kind, ref = m.group(2), m.group(3)
        with self.lock:
            self.counts[kind] += 1
        if not self.authorized(h):
            return self.refuse(h)
        if kind == "manifests":
            with self.lock:
                entry = self.manifests.get(ref)
            if not entry:
                return h.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return h.reply(200, entry[1], {"Content-Type": entry[0]})
        with self.lock:
            known = ref in self.blobs
        if not known:
            return h.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        # as registries backed by object storage do: a signed URL on another host
        h.reply(307, b"", {"Location": f"https://localhost:{self.blob_server.port}/store/{ref}?sig=abc"})

    def blobhost_get(self, h):
        u = urllib.parse.urlsplit(h.path)
        digest = u.path.rsplit("/", 1)[-1]
        with self.lock:
            self.counts["blobhost"] += 1
            self.blob_host_auth.append(h.headers.get("Authorization"))
            data = self.blobs.get(digest)
            corrupt = digest in self.corrupt
        if data is None:
            return h.reply(404)
        if corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        h.reply(200, data, {"Content-Type": "application/octet-stream"})


class Mirror:
    """A plain HTTP mirror: /trivy/db.tar.gz and /trivy/db.tar.gz.sha256. `slow` makes the bundle
    trickle out a byte at a time (for the shutdown test), `stall` stops it after 10 bytes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.counts = collections.Counter()
        self.slow = threading.Event()
        self.stall = threading.Event()
        self.stop = threading.Event()
        mirror = self

        class MirrorHandler(Handler):
            def do_GET(self):
                mirror.get(self)

        self.server = Server(MirrorHandler)
        self.url = f"http://127.0.0.1:{self.server.port}/trivy/db.tar.gz"

    def close(self):
        self.stop.set()
        self.server.close()

    def publish(self, bundle: bytes, digest_line: str | None = "auto"):
        with self.lock:
            self.files["/trivy/db.tar.gz"] = bundle
            if digest_line is None:
                self.files.pop("/trivy/db.tar.gz.sha256", None)
            else:
                line = f"{sha(bundle)}  db.tar.gz\n" if digest_line == "auto" else digest_line
                self.files["/trivy/db.tar.gz.sha256"] = line.encode()

    def get(self, h):
        path = urllib.parse.urlsplit(h.path).path
        with self.lock:
            self.counts[path] += 1
            data = self.files.get(path)
        if data is None:
            return h.reply(404, b"<html>404 Not Found</html>", {"Content-Type": "text/html"})
        if path.endswith(".tar.gz") and self.stall.is_set():
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            try:
                h.wfile.write(data[:10])
                h.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            self.stop.wait(60)  # then nothing more
            return
        if path.endswith(".tar.gz") and self.slow.is_set():
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            try:
                for b in data:
                    if self.stop.is_set():
                        return
                    h.wfile.write(bytes([b]))
                    h.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                return
            return
        h.reply(200, data, {"Content-Type": "application/octet-stream"})


# ---- the core ----

def configure(stack, extra: dict):
    with open(stack.workdir / "core.conf", "a") as f:
        for k, v in {"jobs.poll": "200ms", "jobs.retry": "1h", "trivy_db.interval": "1h",
                     "trivy_db.timeout": "10s", **extra}.items():
            f.write(f'{k} = "{v}"\n')


def job_row(stack) -> dict:
    rows = stack.sql(f"SELECT runs, last_status, coalesce(last_error, ''), coalesce(last_message, '') "
                     f"FROM jobs WHERE name = '{JOB}'")
    if not rows:
        return {"runs": 0, "status": "", "error": "", "message": ""}
    r = rows[0] + [""] * (4 - len(rows[0]))
    return {"runs": int(r[0]), "status": r[1], "error": r[2], "message": r[3]}


def wait_run(stack, after_runs: int) -> dict:
    def done():
        r = job_row(stack)
        return r if r["runs"] > after_runs and r["status"] in ("ok", "error") else None
    return wait_for(f"run {after_runs + 1} of {JOB}", done, 90, 0.1)


def run_again(stack) -> dict:
    before = job_row(stack)["runs"]
    stack.sql(f"UPDATE jobs SET next_run_at = now() WHERE name = '{JOB}'")
    return wait_run(stack, before)


class Store:
    """What the core published, read with the nats CLI."""

    def __init__(self, stack, tmp: Path):
        self.nats = nats_cli()
        self.url = f"nats://127.0.0.1:{stack.nats_port}"
        self.tmp = tmp

    def cli(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([self.nats, "--server", self.url, *args], capture_output=True, text=True, timeout=60)

    def object_sha(self) -> str:
        out = self.tmp / "trivy-db.out"
        if out.exists():
            out.unlink()
        r = self.cli("object", "get", "artifacts", "trivy-db", "-O", str(out), "--force", "--no-progress")
        assert r.returncode == 0, f"nats object get failed: {r.stdout} {r.stderr}"
        return sha(out.read_bytes())

    def signal(self) -> dict:
        r = self.cli("kv", "get", "artifacts", "trivy-db", "--raw")
        assert r.returncode == 0, f"nats kv get failed: {r.stdout} {r.stderr}"
        return json.loads(r.stdout)

    def assert_holds(self, bundle: bytes, source: str):
        h = sha(bundle)
        assert self.object_sha() == h
        v = self.signal()
        assert {k: v[k] for k in v if k != "updated_unix_ms"} == {
            "event": "trivy_db_update", "name": "trivy-db", "version": "sha256:" + h, "sha256": h,
            "size": len(bundle), "bucket": "artifacts", "object": "trivy-db", "source": source}
        assert abs(v["updated_unix_ms"] - time.time() * 1000) < 10 * 60 * 1000
        return v


def no_temp_files(stack):
    d = stack.workdir / "core" / "artifacts"
    left = [p.name for p in d.iterdir()] if d.exists() else []
    assert left == [], f"temporary files left in {d}: {left}"


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path)


@pytest.fixture
def registry(certs):
    r = Registry((certs[1], certs[2]))
    yield r
    r.close()


@pytest.fixture
def mirror():
    m = Mirror()
    yield m
    m.close()


# ---- the tests ----

def test_oci_registry(fresh_stack, registry, certs, tmp_path):
    s = fresh_stack
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    source = f"oci://127.0.0.1:{registry.server.port}/{REPO_NAME}:2"
    b1 = make_bundle(1, 3 * 1024 * 1024)
    registry.push("2", b1)
    configure(s, {"trivy_db.source": source, "trivy_db.ca_file": str(certs[0]), "trivy_db.username": USER,
                  "trivy_db.password_file": str(tmp_path / "pw"), "trivy_db.max_bytes": "16M"})
    s.start_core()
    store = Store(s, tmp_path)

    # first run (due at start): token flow, manifest, blob through the redirect
    r = wait_run(s, 0)
    assert r["status"] == "ok", r
    assert r["message"].startswith(f"updated to sha256:{sha(b1)} ({len(b1)} bytes"), r
    first = store.assert_holds(b1, source)
    # manifest: 401, token, manifest with the token; blob: 307 to the blob host
    assert (registry.counts["manifests"], registry.counts["token"]) == (2, 1), registry.counts
    assert (registry.counts["blobs"], registry.counts["blobhost"]) == (1, 1), registry.counts
    assert registry.blob_host_auth == [None], "the bearer token was sent to the blob host"
    assert re.search(r"trivy-db: downloading: [0-9.]+ of [0-9.]+ MiB \(\d+%\), [0-9.]+ MiB/s", s.log("core"))
    no_temp_files(s)

    # same digest: the manifest is asked for, the blob is not downloaded again
    counts = dict(registry.counts)
    r = run_again(s)
    assert r["status"] == "ok" and r["message"].startswith(f"up to date: sha256:{sha(b1)}"), r
    assert registry.counts["manifests"] > counts["manifests"]
    assert registry.counts["blobs"] == counts["blobs"] and registry.counts["blobhost"] == counts["blobhost"]
    assert store.signal() == first

    # a new bundle: a new version
    b2 = make_bundle(2, 2 * 1024 * 1024)
    registry.push("2", b2)
    r = run_again(s)
    assert r["status"] == "ok" and f"updated to sha256:{sha(b2)}" in r["message"], r
    assert f"was sha256:{sha(b1)}" in r["message"]
    good = store.assert_holds(b2, source)

    def fails(expect: str) -> dict:
        r = run_again(s)
        assert r["status"] == "error", r
        assert expect in r["error"], r
        assert store.signal() == good, "the KV signal changed after a failed run"
        assert store.object_sha() == sha(b2), "the object changed after a failed run"
        no_temp_files(s)
        return r

    # the blob's content does not match its digest
    b3 = make_bundle(3, 1024 * 1024)
    d3 = registry.push("2", b3)
    registry.corrupt.add(d3)
    fails(f"could not get blob {d3} of {REPO_NAME}: the content has digest sha256:")

    # a manifest of another kind
    registry.push("2", b3, layer_type="application/vnd.oci.image.layer.v1.tar+gzip")
    fails("layer media type application/vnd.oci.image.layer.v1.tar+gzip, expected " + TRIVY_LAYER)
    registry.push("2", b3, layers=2)
    fails("2 layers, expected exactly one")
    registry.push("2", b3, index=True)
    fails("an image index (application/vnd.oci.image.index.v1+json)")

    # larger than trivy_db.max_bytes (16M), as announced and as served
    registry.corrupt.discard(d3)
    registry.push("2", b3, size=20 * 1024 * 1024)
    fails("more than trivy_db.max_bytes")
    registry.push("2", b3, size=1000)
    fails("longer than the 1000 bytes of the manifest")

    # authentication the client cannot satisfy
    registry.push("2", b3)
    registry.auth = "no-challenge"
    fails("requires authentication (HTTP 401) and sent no WWW-Authenticate challenge")
    registry.auth = "negotiate"
    fails("offers no bearer token flow")

    # and back to normal: b3 is installed
    registry.auth = "bearer"
    r = run_again(s)
    assert r["status"] == "ok", r
    store.assert_holds(b3, source)
    assert [a for a in registry.blob_host_auth if a is not None] == []


def test_http_mirror(fresh_stack, mirror, tmp_path):
    s = fresh_stack
    m1 = make_bundle(11, 1024 * 1024)
    mirror.publish(m1)
    configure(s, {"trivy_db.source": mirror.url, "trivy_db.max_bytes": "2M", "trivy_db.timeout": "2s"})
    s.start_core()
    store = Store(s, tmp_path)

    r = wait_run(s, 0)
    assert r["status"] == "ok" and r["message"].startswith(f"updated to sha256:{sha(m1)}"), r
    good = store.assert_holds(m1, mirror.url)

    # same digest published: only the .sha256 is fetched
    got = mirror.counts["/trivy/db.tar.gz"]
    r = run_again(s)
    assert r["status"] == "ok" and r["message"].startswith("up to date"), r
    assert mirror.counts["/trivy/db.tar.gz"] == got

    def fails(expect: str):
        r = run_again(s)
        assert r["status"] == "error", r
        assert expect in r["error"], r
        assert store.signal() == good and store.object_sha() == sha(m1)
        no_temp_files(s)

    # the bundle does not match the published digest
    m2 = make_bundle(12, 1024 * 1024)
    other = sha(b"another file")
    mirror.publish(m2, digest_line=f"{other}  db.tar.gz\n")
    fails(f"its SHA-256 is {sha(m2)}, expected {other}")
    # no digest at all: never installed unverified
    mirror.publish(m2, digest_line=None)
    fails("answered HTTP 404 and trivy_db.sha256 is not set; refusing to install unverified data")
    # a digest file of another format
    mirror.publish(m2, digest_line="<html>oops</html>")
    fails("db.tar.gz.sha256: invalid digest file")
    # over trivy_db.max_bytes
    big = make_bundle(13, 3 * 1024 * 1024)
    mirror.publish(big)
    fails("larger than 2097152 bytes (trivy_db.max_bytes)")

    # a transfer that stalls (trivy_db.timeout = 2s)
    mirror.publish(m2)
    mirror.stall.set()
    fails("no progress for 2000 ms")
    mirror.stall.clear()

    r = run_again(s)
    assert r["status"] == "ok", r
    store.assert_holds(m2, mirror.url)


def test_shutdown_cancels_a_download(fresh_stack, mirror, tmp_path):
    s = fresh_stack
    mirror.publish(make_bundle(21, 256 * 1024))
    mirror.slow.set()
    configure(s, {"trivy_db.source": mirror.url, "trivy_db.timeout": "10m"})
    s.start_core()
    wait_for("the download to start", lambda: mirror.counts["/trivy/db.tar.gz"] >= 1, 60)
    wait_for("the download to be running", lambda: job_row(s)["status"] == "running", 30)
    t0 = time.monotonic()
    rc = s.stop("core", signal.SIGTERM, timeout=30)
    took = time.monotonic() - t0
    print(f"core stopped {took:.1f} s after SIGTERM during a download")
    assert rc == 0
    assert took < 15, f"the core needed {took:.1f} s to stop during a download"
    r = job_row(s)
    assert r["status"] == "error" and "cancelled" in r["error"], r
    no_temp_files(s)
