"""An operator enrolls a second agent through the real core, and that agent reports in."""
from __future__ import annotations

import subprocess

from srstack import wait_for, write_conf


def ca_fingerprint(path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    return "sha256:" + out.strip().split("=", 1)[1].replace(":", "").lower()


def test_enrolled_agent_reports_in(stack, tmp_path):
    pki = stack.bin / "serviceradar-pki"
    token = subprocess.run([pki, "token", "--dir", str(stack.pki), "--id", "enrolled-1", "--quiet"],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert token
    out = tmp_path / "certs"
    fp = ca_fingerprint(stack.pki / "ca.crt")
    subprocess.run([pki, "enroll", "--core", stack.url, "--token", token, "--ca-fingerprint", fp,
                    "--out", str(out)], check=True, capture_output=True, text=True)
    assert (out / "agent.key").stat().st_mode & 0o077 == 0, "private key readable by others"
    subprocess.run(["openssl", "verify", "-CAfile", str(stack.pki / "ca.crt"), str(out / "agent.crt")],
                   check=True, capture_output=True)
    subject = subprocess.run(["openssl", "x509", "-in", str(out / "agent.crt"), "-noout", "-subject"],
                             check=True, capture_output=True, text=True).stdout
    assert "CN = enrolled-1" in subject or "CN=enrolled-1" in subject

    # the token is one-time; a wrong CA fingerprint is refused before anything is written
    again = subprocess.run([pki, "enroll", "--core", stack.url, "--token", token, "--ca-fingerprint", fp,
                            "--out", str(tmp_path / "again")], capture_output=True, text=True)
    assert again.returncode != 0
    token2 = subprocess.run([pki, "token", "--dir", str(stack.pki), "--id", "enrolled-2", "--quiet"],
                            check=True, capture_output=True, text=True).stdout.strip()
    wrong = subprocess.run([pki, "enroll", "--core", stack.url, "--token", token2,
                            "--ca-fingerprint", "sha256:" + "0" * 64, "--out", str(tmp_path / "wrong")],
                           capture_output=True, text=True)
    assert wrong.returncode != 0
    assert "fingerprint" in (wrong.stderr + wrong.stdout).lower(), wrong.stderr
    assert not (tmp_path / "wrong" / "agent.key").exists()

    conf = tmp_path / "agent2.conf"
    write_conf(conf, {
        "gateway.address": f"127.0.0.1:{stack.grpc_port}",
        "tls.ca_file": str(out / "ca.crt"),
        "tls.cert_file": str(out / "agent.crt"),
        "tls.key_file": str(out / "agent.key"),
        "data_dir": str(tmp_path / "agent2"),
        "interval": "1s",
        "hostname": "enrolled-host",
    })
    stack._start("agent2", [str(stack.bin / "serviceradar-agent"), "-c", str(conf)])
    try:
        host = wait_for("enrolled agent in /api/v1/hosts", lambda: next(
            (h for h in stack.api("/api/v1/hosts") if h["agent_id"] == "enrolled-1" and h["status"] == "online"),
            None), 60)
        assert host["hostname"] == "enrolled-host"
    finally:
        assert stack.stop("agent2") == 0
