"""Host log lines become events through the real processes: the agent follows an auth.log, parses
and uploads the lines (LogsBatch), the gateway routes them to logs.edge, the core's core-logs
consumer stores one event per line with the mapped columns and a search vector. Lines appended
while the agent runs arrive too, and an agent restart neither loses nor duplicates a line."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from conftest import dump_logs, make_stack
from srstack import wait_for

ATTACKER = "198.51.100.7"


def syslog_time(t: dt.datetime) -> str:
    return t.strftime("%b ") + f"{t.day:>2}" + t.strftime(" %H:%M:%S")


def auth_lines(start: int, n: int) -> list[str]:
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    out = []
    for i in range(start, start + n):
        ts = syslog_time(now)
        if i % 2 == 0:
            out.append(f"{ts} bastion sshd[{800 + i}]: Failed password for invalid user admin{i} from {ATTACKER} "
                       f"port {40000 + i} ssh2")
        else:
            out.append(f"{ts} bastion sshd[{800 + i}]: Accepted publickey for alice from 192.0.2.{i % 250 + 1} "
                       f"port {50000 + i} ssh2: ED25519 SHA256:e2etest{i}")
    return out


@pytest.fixture(scope="module")
def logstack(tmp_path_factory, request):
    s = make_stack(tmp_path_factory, "events", agent_interval="1s", heartbeat="2s")
    log = s.workdir / "auth.log"
    log.write_text("\n".join(auth_lines(0, 40)) + "\n")
    try:
        s.make_pki()
        s.write_configs()
        with open(s.workdir / "agent.conf", "a") as f:
            f.write(f'logs.files = "{log}=auth"\nlogs.from_start = true\nlogs.flush_interval = "200ms"\n')
        s.start_core()
        s.start_gateway()
        s.start_agent()
        s.auth_log = log
        yield s
        codes = s.stop_all()
        unclean = {k: v for k, v in codes.items() if v != 0}
        if unclean:
            dump_logs(s)
        assert not unclean, f"processes did not stop cleanly on SIGTERM: {unclean}"
    finally:
        if request.session.testsfailed:
            dump_logs(s)
        s.stop_all()
        s.drop_database()


def count(s, where: str) -> int:
    return int(s.sql(f"SELECT count(*) FROM events WHERE {where}")[0][0])


def test_lines_become_events(logstack):
    s = logstack
    mine = f"agent_id = '{s.agent_id}' AND source_type = 'auth'"
    wait_for("40 auth events", lambda: count(s, mine) == 40, 60)
    assert count(s, f"{mine} AND program = 'sshd' AND host = 'bastion' AND pid >= 800") == 40
    failed = (f"{mine} AND outcome = 'failure' AND action IS NOT NULL AND src_ip = '{ATTACKER}'::inet "
              f"AND user_name LIKE 'admin%' AND severity >= 2")
    assert count(s, failed) == 20
    assert count(s, f"{mine} AND outcome = 'success' AND user_name = 'alice'") == 20
    assert count(s, f"{mine} AND fields->>'log.path' = '{s.auth_log}'") == 40
    # the address whole in the search vector, and a line found by its words
    assert count(s, f"{mine} AND search @@ '''{ATTACKER}'''::tsquery") == 20
    assert count(s, f"{mine} AND search @@ '''admin12'' & ''failed'''::tsquery") == 1
    assert count(s, f"{mine} AND time > now() - interval '10 minutes' AND time <= now()") == 40
    assert int(s.sql("SELECT count(DISTINCT id) FROM events")[0][0]) == 40
    assert int(s.sql("SELECT count(*) FROM dead_letters")[0][0]) == 0


def test_appended_lines_and_agent_restart(logstack):
    s = logstack
    mine = f"agent_id = '{s.agent_id}' AND source_type = 'auth'"
    wait_for("40 auth events", lambda: count(s, mine) == 40, 60)
    with open(s.auth_log, "a") as f:
        f.write("\n".join(auth_lines(40, 10)) + "\n")
    wait_for("50 auth events", lambda: count(s, mine) == 50, 60)
    # a restart resumes from the saved offsets: nothing read twice, nothing lost
    assert s.stop("agent") == 0
    with open(s.auth_log, "a") as f:
        f.write("\n".join(auth_lines(50, 6)) + "\n")
    s.start_agent()
    wait_for("56 auth events", lambda: count(s, mine) == 56, 60)
    time.sleep(2)
    assert count(s, mine) == 56
    assert int(s.sql("SELECT count(DISTINCT id) FROM events")[0][0]) == 56
    assert int(s.sql("SELECT count(DISTINCT message) FROM events")[0][0]) == 56
