"""Vulnerability scans end to end, offline: the real agent (Trivy linked in) scans a Debian root
filesystem and a simulated container with a Trivy DB that sr-trivydb-fixture builds for that root
filesystem, so the findings are known exactly; the parts travel agent -> gateway -> JetStream ->
core -> PostgreSQL and are read back through the API. The `scan` command, findings fixed and
reopened by later scans with another DB, and an agent that has no DB yet."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

from conftest import dump_logs, make_stack
from scan_support import (SPEC, Container, NatsSub, build_db, command_done, copy_rootfs, dpkg_installed,
                          drop_dpkg_entry, exchange_dirs, findings, key, packages, send_command, start_agent,
                          trivy_path, wait_scan)
from srstack import wait_for

HOST_AGENT = "scan-host"
DROPPED = "CVE-2099-1003"  # the advisory the second DB lacks (apt: findings for apt and libapt-pkg7.0)


def spec_severity() -> dict[str, str]:
    spec = json.loads(SPEC.read_text())
    return {a["id"]: a["severity"] for a in spec["os"] + spec["npm"]}


@pytest.fixture(scope="module")
def rootfs():
    return trivy_path("rootfs")


@pytest.fixture(scope="module")
def fixture_tool():
    return trivy_path("fixture-tool")


@pytest.fixture(scope="module")
def scan_stack(tmp_path_factory, request):
    """Core and gateway; each test starts its own agents (stopped at the end of the module)."""
    s = make_stack(tmp_path_factory, "scan", heartbeat="2s")
    s.make_pki()
    s.write_configs()
    with open(s.workdir / "core.conf", "a") as f:
        f.write("trivy_db.enabled = false\n")  # offline: no DB download job
    try:
        s.start_core()
        s.start_gateway()
        yield s
    finally:
        agents = [name for name in s.procs if name.startswith("agent-")]
        codes = {name: s.stop(name) for name in agents}
        codes.update(s.stop_all())
        if request.session.testsfailed or any(codes.values()):
            dump_logs(s)
            for name in agents:
                text = s.log(name)
                print(f"----- {name} log (last 80 lines) -----")
                print("\n".join(text.splitlines()[-80:]))
        s.drop_database()
    assert not any(codes.values()), f"processes did not stop cleanly on SIGTERM: {codes}"


@pytest.fixture(scope="module")
def host_agent(scan_stack, rootfs, fixture_tool, tmp_path_factory):
    """An agent scanning the test root filesystem as its host, with a fixture DB, right at start."""
    d = tmp_path_factory.mktemp("hostdb")
    expected = build_db(fixture_tool, rootfs, SPEC, d / "db")
    start_agent(scan_stack, HOST_AGENT, {"scan.host_root": str(rootfs), "scan.db_dir": str(d / "db"),
                                         "scan.start_delay": "0s", "scan.containers": False})
    return {"dir": d, "db": d / "db", "expected": expected}


def assert_exact(got: list[dict], expected: list[dict], what: str):
    got_keys = sorted(key(f) for f in got)
    want_keys = sorted(key(e) for e in expected)
    assert len(got_keys) == len(set(got_keys)), f"{what}: duplicate findings {got_keys}"
    assert got_keys == want_keys, f"{what}: findings differ\n  extra: {sorted(set(got_keys) - set(want_keys))}" \
                                  f"\n  missing: {sorted(set(want_keys) - set(got_keys))}"


# ---- 1. the host, offline, exactly ----

def test_host_scan_offline_exact(scan_stack, host_agent, rootfs):
    s = scan_stack
    expected = host_agent["expected"]
    assert len(expected) == 6, f"the fixture tool's prediction changed: {expected}"
    wait_scan(s, HOST_AGENT)  # the first one, due at start

    got = findings(s, HOST_AGENT)
    assert_exact(got, expected, "host")
    sev = spec_severity()
    for f in got:
        assert f["status"] == "open", f
        assert f["target"] == "host" and f["agent_id"] == HOST_AGENT, f
        assert f["severity"] == sev[f["vulnerability_id"]], f
        assert f["first_seen"] and f["last_seen"] and f["fixed_at"] is None, f
    # the open-only default lists the same
    assert sorted(key(f) for f in findings(s, HOST_AGENT, status="open")) == sorted(key(f) for f in got)

    # packages: every installed dpkg package with its version, and lodash from node_modules
    pk = packages(s, HOST_AGENT)
    dpkg = dpkg_installed(rootfs)
    assert len(pk) == len(dpkg) + 1, (len(pk), len(dpkg))
    assert sorted((p["name"], p["version"]) for p in pk) == sorted([*dpkg.items(), ("lodash", "4.17.20")])
    lodash = next(p for p in pk if p["name"] == "lodash")
    assert lodash["class"] == "lang-pkgs" and lodash["purl"] == "pkg:npm/lodash@4.17.20", lodash
    assert lodash["open_findings"] == 1, lodash
    bash = next(p for p in pk if p["name"] == "bash")
    assert bash["class"] == "os-pkgs" and bash["purl"].startswith("pkg:deb/debian/bash@"), bash
    assert bash["installed_files"] > 0 and bash["open_findings"] == 1, bash

    # the SBOM: CycloneDX JSON naming the same software
    with urllib.request.urlopen(f"{s.url}/api/v1/hosts/{HOST_AGENT}/sbom?target=host", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/vnd.cyclonedx+json"
        bom = json.loads(r.read())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"], {k: bom[k] for k in bom if k != "components"}
    comps = {(c.get("name"), c.get("version")) for c in bom.get("components", [])}
    assert ("lodash", "4.17.20") in comps, sorted(comps)[:20]
    assert any(n == "bash" and v == dpkg["bash"] for n, v in comps), sorted(comps)[:20]


# ---- 2. the scan command through the core API ----

def test_scan_command(scan_stack, host_agent, rootfs):
    s = scan_stack
    wait_scan(s, HOST_AGENT)
    sub = NatsSub(s.nats_port, f"commands.results.{HOST_AGENT}")
    try:
        cid = send_command(s, HOST_AGENT, "scan")
        cmd = command_done(s, cid)
        relayed = wait_for("the result relayed on NATS", lambda: (lambda m: m if any(
            x.get("kind") == "result" for x in m) else None)(
            [x for x in sub.json_messages() if x.get("command_id") == cid]), 10, 0.05)
    finally:
        sub.close()
    assert cmd["status"] == "succeeded", cmd
    res = cmd["result"]
    assert res["ok"] is True and res["kind"] == "result", res
    summary = json.loads(res["output"])
    assert re.fullmatch(r"[0-9a-f]{32}", summary["scan_id"]), summary
    assert (summary["targets"], summary["scanned"], summary["failed"]) == (1, 1, 0), summary
    assert summary["packages"] == len(dpkg_installed(rootfs)) + 1, summary
    assert summary["vulnerabilities"] == len(host_agent["expected"]), summary
    assert summary["scanner"].startswith("trivy "), summary
    assert summary["failures"] == [], summary

    # ack, progress ("scanning host (1 of 1)" at 0 %, "scanned 1 of 1 targets" at 100 %), result
    kinds = [m["kind"] for m in relayed]
    assert kinds[0] == "ack" and kinds[-1] == "result", kinds
    progress = [(m.get("percent", 0), m.get("message")) for m in relayed if m["kind"] == "progress"]
    assert progress == [(0, "scanning host (1 of 1)"), (100, "scanned 1 of 1 targets")], relayed

    # the core applied that very scan: the findings' last scan is it, the set unchanged
    wait_scan(s, HOST_AGENT, summary["scan_id"], timeout=60)
    got = findings(s, HOST_AGENT)
    assert_exact(got, host_agent["expected"], "after the scan command")
    assert {f["last_scan_id"] for f in got} == {summary["scan_id"]}
    assert all(f["status"] == "open" for f in got)


# ---- 3. fixed and reopened by real scans ----

def run_scan(s) -> str:
    cmd = command_done(s, send_command(s, HOST_AGENT, "scan"))
    assert cmd["status"] == "succeeded", cmd
    scan_id = json.loads(cmd["result"]["output"])["scan_id"]
    return wait_scan(s, HOST_AGENT, scan_id, timeout=60)


def test_findings_fixed_then_reopened(scan_stack, host_agent, rootfs, fixture_tool, tmp_path):
    s = scan_stack
    wait_scan(s, HOST_AGENT)
    expected = host_agent["expected"]
    before = {key(f): f for f in findings(s, HOST_AGENT)}
    assert_exact(list(before.values()), expected, "before")

    spec = json.loads(SPEC.read_text())
    spec["os"] = [a for a in spec["os"] if a["id"] != DROPPED]
    spec2 = tmp_path / "spec-without.json"
    spec2.write_text(json.dumps(spec))
    new_db = host_agent["dir"] / "db.new"
    expected2 = build_db(fixture_tool, rootfs, spec2, new_db)
    gone = {key(e) for e in expected} - {key(e) for e in expected2}
    assert {k[0] for k in gone} == {DROPPED} and len(gone) == 2, gone
    assert {key(e) for e in expected2} < {key(e) for e in expected}

    # the DB the agent reads is replaced at once, as an installed update would be
    exchange_dirs(new_db, host_agent["db"])
    try:
        sid = run_scan(s)
        after = {key(f): f for f in findings(s, HOST_AGENT)}
        assert set(after) == set(before), "findings are never deleted"
        for k, f in after.items():
            if k in gone:
                assert f["status"] == "fixed" and f["fixed_at"], f
                assert f["last_scan_id"] != sid, f
            else:
                assert f["status"] == "open" and f["fixed_at"] is None and f["last_scan_id"] == sid, f
                assert f["first_seen"] == before[k]["first_seen"], (f, before[k])
        assert_exact(findings(s, HOST_AGENT, status="open"), expected2, "open after the advisory left the DB")
        assert sorted(findings(s, HOST_AGENT, status="fixed"), key=key) == sorted(
            (f for k, f in after.items() if k in gone), key=key)
    finally:
        exchange_dirs(new_db, host_agent["db"])  # the first DB back

    sid = run_scan(s)
    back = {key(f): f for f in findings(s, HOST_AGENT)}
    assert set(back) == set(before)
    for k, f in back.items():
        assert f["status"] == "open" and f["fixed_at"] is None and f["last_scan_id"] == sid, f
        assert f["first_seen"] == before[k]["first_seen"], (f, before[k])
        if k in gone:
            assert f["reopened_at"], f
        else:
            assert f["reopened_at"] is None, f
    assert_exact(findings(s, HOST_AGENT, status="open"), expected, "reopened")


# ---- 4. a container ----

@pytest.fixture
def container(rootfs, tmp_path):
    """A copy of the test root filesystem without apt's dpkg entry, running as a Docker-named container."""
    root = tmp_path / "ctr-root"
    copy_rootfs(rootfs, root)
    drop_dpkg_entry(root, "apt")
    c = Container(root)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_container_scan(scan_stack, container, rootfs, fixture_tool, tmp_path):
    s = scan_stack
    agent = "scan-containers"
    host_expected = build_db(fixture_tool, rootfs, SPEC, tmp_path / "db")
    ctr_expected = build_db(fixture_tool, container.root, SPEC, tmp_path / "ctr-db")  # its oracle only
    assert {key(e) for e in host_expected} - {key(e) for e in ctr_expected} == {
        ("CVE-2099-1003", "apt", dpkg_installed(rootfs)["apt"], dpkg_installed(rootfs)["apt"] + "+sr1")}
    start_agent(s, agent, {"scan.host_root": str(rootfs), "scan.db_dir": str(tmp_path / "db"),
                             "scan.start_delay": "0s", "scan.containers": True})
    target = f"container:{container.id}"
    sid = wait_scan(s, agent)
    assert wait_scan(s, agent, sid, target=target) == sid, "the container is scanned in the same run"

    assert_exact(findings(s, agent, target="host"), host_expected, "host of the container agent")
    got = findings(s, agent, target=target)
    assert_exact(got, ctr_expected, target)
    sev = spec_severity()
    for f in got:
        assert f["target"] == target and f["status"] == "open" and f["severity"] == sev[f["vulnerability_id"]], f
    pk = packages(s, agent, target=target)
    assert len(pk) == len(dpkg_installed(container.root)) + 1 == len(packages(s, agent, target="host")) - 1
    assert "apt" not in {p["name"] for p in pk} and "libapt-pkg7.0" in {p["name"] for p in pk}
    rows = s.sql(f"SELECT target_name FROM scans WHERE agent_id = '{agent}' AND target = '{target}'")
    assert rows and rows[0][0] == "docker", rows
    with urllib.request.urlopen(f"{s.url}/api/v1/hosts/{agent}/sbom?target={target}", timeout=10) as r:
        names = {c.get("name") for c in json.loads(r.read()).get("components", [])}
    assert "lodash" in names and "bash" in names and "apt" not in names


# ---- 5. no DB yet ----

def test_no_db_yet(scan_stack, tmp_path):
    s = scan_stack
    agent = "scan-nodb"
    db = tmp_path / "no-db-here"
    name = start_agent(s, agent, {"scan.db_dir": str(db), "scan.start_delay": "0s", "scan.containers": False})
    wait_for("the agent to say it waits for a DB",
             lambda: f"scan: no Trivy DB in {db} yet" in s.log(name), 60, 0.1)
    cmd = command_done(s, send_command(s, agent, "scan"))
    assert cmd["status"] == "failed", cmd
    assert cmd["result"]["ok"] is False, cmd
    assert cmd["result"]["error"].startswith(f"no Trivy DB in {db} yet"), cmd
    assert s.alive(name), "the agent died"
    assert s.sql(f"SELECT count(*) FROM scans WHERE agent_id = '{agent}'") == [["0"]]
    assert s.sql(f"SELECT count(*) FROM dead_letters") == [["0"]]
    # its telemetry still flows
    wait_for("telemetry from the agent without a DB",
             lambda: int(s.sql(f"SELECT count(*) FROM ingest_batches WHERE agent_id = '{agent}'")[0][0]) > 0, 60)
