"""Real Falco alerts published on NATS (security.falco.alerts) become events through the core's
SECURITY/core-falco consumer; the query API finds them, and the search page (web/e2e/search.spec.ts)
shows them in a real browser.

The alerts come from SR_FALCO_ALERTS (Falco's JSON output, one alert a line; by default the real
alerts kept in testdata/falco with their provenance). They are published
with the NATS CLI (scripts/tools.sh nats), an independent client, as JetStream publishes: each one
must be acknowledged by the SECURITY stream."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from srstack import REPO, wait_for

ALERTS = Path(os.environ.get("SR_FALCO_ALERTS", str(REPO / "testdata" / "falco" / "falco_alerts.jsonl")))


def nats_cli() -> Path:
    r = subprocess.run([str(REPO / "scripts" / "tools.sh"), "nats"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"scripts/tools.sh nats failed: {r.stderr[-2000:]}"
    return Path(r.stdout.strip().splitlines()[-1]) / "nats"


def query(stack, q: str, **kw) -> dict:
    return stack.api("/api/v1/query", "POST", {"query": q, **kw})


def all_rows(stack, q: str) -> list[list]:
    """Every row of an event query, following next_cursor."""
    rows: list[list] = []
    body = query(stack, q, limit=1000)
    rows += body["rows"]
    while body["next_cursor"]:
        body = query(stack, q, limit=1000, cursor=body["next_cursor"])
        rows += body["rows"]
    return rows


@pytest.fixture(scope="module")
def alerts(stack) -> list[dict]:
    """Publishes every alert of ALERTS once and waits until the query API returns them all."""
    if not ALERTS.is_file():
        pytest.fail(f"{ALERTS} is missing: set SR_FALCO_ALERTS to a file of Falco JSON alerts")
    lines = [line for line in ALERTS.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert len(parsed) > 10, "the search test needs more alerts than one page of 10"
    nats = nats_cli()
    server = f"nats://127.0.0.1:{stack.nats_port}"
    wait_for("the SECURITY stream", lambda: subprocess.run(
        [str(nats), "-s", server, "stream", "info", "SECURITY", "--json"], capture_output=True,
        timeout=10).returncode == 0, 60)
    for i, line in enumerate(lines):
        # -J waits for the stream's acknowledgement; --no-templates keeps "{{" in alert text literal
        r = subprocess.run([str(nats), "-s", server, "pub", "-J", "--no-templates", "--force-stdin",
                            "security.falco.alerts"], input=line, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"publishing alert {i + 1} failed: {r.stdout} {r.stderr}"
    wait_for(f"{len(lines)} falco_alert events in /api/v1/query",
             lambda: len(all_rows(stack, "type:falco_alert")) >= len(lines), 60)
    return parsed


def test_every_published_alert_is_one_event(stack, alerts):
    body = query(stack, "type:falco_alert", limit=1000)
    names = [c["name"] for c in body["columns"]]
    assert body["kind"] == "events"
    rows = all_rows(stack, "type:falco_alert")
    assert len(rows) == len(alerts)
    got = sorted((r[names.index("rule")], r[names.index("message")]) for r in rows)
    assert got == sorted((a["rule"], a["output"]) for a in alerts)
    for r in rows:
        assert r[names.index("source_type")] == "falco_alert"
        assert isinstance(r[names.index("fields")], dict)


def test_search_page_in_a_browser(stack, alerts):
    env = dict(os.environ, SR_URL=stack.url, SR_SEARCH_EXPECT_EVENTS=str(len(alerts)))
    r = subprocess.run([str(REPO / "scripts" / "web.sh"), "e2e", "e2e/search.spec.ts"], env=env,
                       capture_output=True, text=True, timeout=300)
    print(r.stdout[-6000:], r.stderr[-4000:])
    assert r.returncode == 0, "playwright search test failed"
