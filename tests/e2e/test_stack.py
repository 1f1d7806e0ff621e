"""This host's metrics travel agent -> gateway -> JetStream -> core -> PostgreSQL -> API."""
from __future__ import annotations

import json
import os
import socket
import subprocess

from srstack import REPO, wait_for


def meminfo_total_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def host_entry(stack):
    hosts = stack.api("/api/v1/hosts")
    return next((h for h in hosts if h["agent_id"] == stack.agent_id), None)


def series_points(stack, name, dim=None):
    q = f"/api/v1/hosts/{stack.agent_id}/metrics?name={name}&step=1s"
    if dim is not None:
        q += f"&dim={dim}"
    body = stack.api(q)
    return [p for s in body["series"] if dim is None or s["dim"] == dim for p in s["points"]]


def test_host_appears_with_identity_from_certificate(stack):
    h = wait_for("this host in /api/v1/hosts", lambda: host_entry(stack), 60)
    assert h["hostname"] == socket.gethostname()
    assert h["status"] == "online"
    assert h["last_seen"]


def test_metrics_are_sane(stack):
    cpu = wait_for("two cpu.usage_pct points", lambda: (lambda p: p if len(p) >= 2 else None)(
        series_points(stack, "cpu.usage_pct", "total")), 60)
    for _t, avg, mn, mx in cpu:
        assert 0.0 <= mn <= avg <= mx <= 100.0
    mem = wait_for("mem.total_bytes", lambda: series_points(stack, "mem.total_bytes"), 30)
    expected = meminfo_total_bytes()
    assert abs(mem[-1][1] - expected) <= expected * 0.01, (mem[-1], expected)
    names = {n["name"] for n in stack.api(f"/api/v1/hosts/{stack.agent_id}/metric-names")}
    for required in ("cpu.usage_pct", "mem.used_bytes", "load.1", "disk.used_bytes", "net.rx_bytes_per_s"):
        assert required in names, names


def test_ping_command_round_trip(stack):
    wait_for("agent online", lambda: (host_entry(stack) or {}).get("status") == "online", 60)
    accepted = stack.api(f"/api/v1/agents/{stack.agent_id}/commands", "POST", {"type": "ping", "payload": {}})
    cid = accepted["command_id"]
    cmd = wait_for("ping result", lambda: (lambda c: c if c["status"] in ("succeeded", "failed") else None)(
        stack.api(f"/api/v1/commands/{cid}")), 30)
    assert cmd["status"] == "succeeded", cmd
    result = cmd["result"]  # the agent's CommandResult as relayed on commands.results.<id>
    assert result["ok"] is True, result
    assert json.loads(result["output"])["pong"] is True, result


def test_prometheus_metrics_and_openapi(stack):
    import urllib.request
    with urllib.request.urlopen(stack.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    assert "serviceradar_ingest_points_total" in text
    points = [float(l.split()[-1]) for l in text.splitlines() if l.startswith("serviceradar_ingest_points_total")]
    assert points and points[0] > 0
    doc = stack.api("/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/hosts" in doc["paths"]


def test_browser_shows_this_hosts_data(stack):
    wait_for("two cpu points", lambda: len(series_points(stack, "cpu.usage_pct", "total")) >= 2, 60)
    env = dict(os.environ, SR_URL=stack.url, SR_EXPECT_HOSTNAME=socket.gethostname(),
               SR_EXPECT_MEM_TOTAL=str(meminfo_total_bytes()))
    r = subprocess.run([str(REPO / "scripts" / "web.sh"), "e2e", "e2e/stack.spec.ts"], env=env,
                       capture_output=True, text=True, timeout=300)
    print(r.stdout[-4000:], r.stderr[-4000:])
    assert r.returncode == 0, "playwright test failed"
