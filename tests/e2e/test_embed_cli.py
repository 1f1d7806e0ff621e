"""`serviceradar-core embed` as an operator runs it: stdin lines in, one JSON vector per line out,
in order; --similarity; --tokens; -c with embed.* keys; clear errors and exit codes."""
from __future__ import annotations

import json
import math
import subprocess

from conftest import BUILD

CORE = str(BUILD / "bin" / "serviceradar-core")


def run(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([CORE, "embed", *args], input=stdin.encode(), capture_output=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"embed {args} exited {p.returncode}: {p.stderr.decode()}")
    return p


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_lines_in_vectors_out_in_order():
    lines = ["Failed password for root from 203.0.113.7 port 52144 ssh2", "", "cat /etc/shadow",
             "Failed password for root from 203.0.113.7 port 52144 ssh2", "\xe9t\xe9 \u65e5\u672c"]
    p = run(stdin="\n".join(lines) + "\n")
    out = p.stdout.decode().splitlines()
    assert len(out) == len(lines)
    vecs = [json.loads(o) for o in out]
    assert all(len(v) == 384 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-4 for v in vecs)
    assert cosine(vecs[0], vecs[3]) > 0.9999          # same text, same vector
    assert cosine(vecs[0], vecs[2]) < 0.9              # different texts differ
    err = p.stderr.decode()
    assert "embed: provider cpu" in err and "384 dimensions" in err


def test_last_line_without_newline_and_crlf():
    p = run("-q", stdin="first line\r\nsecond line")
    assert len(p.stdout.decode().splitlines()) == 2
    assert p.stderr == b""


def test_similarity():
    close = float(run("-q", "--similarity", "cat /etc/shadow", "tail -n 10 /etc/shadow").stdout)
    far = float(run("-q", "--similarity", "cat /etc/shadow", "systemctl restart nginx").stdout)
    assert -1.0 <= far < close <= 1.0


def test_tokens_show_what_the_model_reads():
    p = run("-q", "--tokens", stdin="Failed password for ROOT from 1.2.3.4\n")
    assert p.stdout.decode().strip() == "[CLS] failed password for root from 1 . 2 . 3 . 4 [SEP]"


def test_int8_and_config_file(tmp_path):
    conf = tmp_path / "core.conf"
    conf.write_text("embed.precision = int8\nembed.threads = 1\nembed.batch = 4\n")
    p = run("-c", str(conf), "--similarity", "a", "b")
    assert "(int8)" in p.stderr.decode()
    conf.write_text("embed.precision = fp16\n")
    p = run("-c", str(conf), "--similarity", "a", "b", check=False)
    assert p.returncode == 2 and "precision" in p.stderr.decode()


def test_errors_are_clear(tmp_path):
    p = run("--model", str(tmp_path), stdin="x\n", check=False)
    assert p.returncode == 1
    assert f"could not find {tmp_path}/model.onnx" in p.stderr.decode()
    p = run("--runtime", "/nonexistent/libonnxruntime.so", stdin="x\n", check=False)
    assert p.returncode == 1 and "could not load ONNX Runtime" in p.stderr.decode()
    p = run("--provider", "tpu", stdin="x\n", check=False)
    assert p.returncode == 2 and "tpu" in p.stderr.decode()
    p = run("--batch", "0", check=False)
    assert p.returncode == 2
    p = run("--similarity", "only-one", check=False)
    assert p.returncode == 2 and "usage" in p.stderr.decode()
