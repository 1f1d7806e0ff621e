"""End-to-end fixtures: the real binaries from build/bin as separate processes against the dev
database (scripts/devdb.sh) and a nats-server supervised by the core."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from srstack import Stack  # noqa: E402

BUILD = Path(os.environ.get("SR_BUILD", REPO / "build"))


def pytest_configure(config):
    for b in ("serviceradar-core", "agent-gateway", "serviceradar-agent", "serviceradar-pki", "serviceradar-loadgen"):
        if not (BUILD / "bin" / b).exists():
            raise pytest.UsageError(f"{BUILD / 'bin' / b} is missing: run make build first")


def make_stack(tmp_path_factory, name: str, **kw) -> Stack:
    return Stack(BUILD, tmp_path_factory.mktemp(name), **kw)


def dump_logs(stack: Stack):
    for name in ("core", "gateway", "agent"):
        text = stack.log(name)
        if text:
            print(f"----- {name} log (last 60 lines) -----")
            print("\n".join(text.splitlines()[-60:]))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    """A whole stack with an agent sampling every second."""
    s = make_stack(tmp_path_factory, "stack", agent_interval="1s", heartbeat="2s")
    try:
        s.start_all()
        yield s
        codes = s.stop_all()
        # a clean stop on SIGTERM exits 0 (and, under ASan, with no leak report)
        unclean = {k: v for k, v in codes.items() if v != 0}
        if unclean:
            dump_logs(s)
        assert not unclean, f"processes did not stop cleanly on SIGTERM: {unclean}"
    finally:
        if request.session.testsfailed:
            dump_logs(s)
        s.stop_all()
        s.drop_database()


@pytest.fixture
def fresh_stack(tmp_path_factory, request):
    """A stack of its own for a fault test; the test starts what it needs."""
    s = make_stack(tmp_path_factory, "fault", agent_interval="1s", heartbeat="2s")
    s.make_pki()
    s.write_configs()
    yield s
    codes = s.stop_all()
    if (request.node.rep_call.failed if hasattr(request.node, "rep_call") else False) or any(codes.values()):
        dump_logs(s)
    s.drop_database()
    assert not any(codes.values()), f"processes did not stop cleanly on SIGTERM: {codes}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
