#!/usr/bin/env python3
"""Writes Trivy DB bundles that sr_trivy_db_install must refuse, into OUTDIR, made from the good
DB directory DBDIR (trivy.db + metadata.json). One file per case: <case>.tar.gz."""
import gzip, io, json, os, sys, tarfile

out, dbdir = sys.argv[1], sys.argv[2]
db = open(os.path.join(dbdir, "trivy.db"), "rb").read()
meta = open(os.path.join(dbdir, "metadata.json"), "rb").read()


def bundle(name, entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            kind = e.get("type", "file")
            if kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e["target"]
                tf.addfile(ti)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                data = e["data"]
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    with open(os.path.join(out, name + ".tar.gz"), "wb") as f:
        f.write(gzip.compress(buf.getvalue()))


f = lambda n, d: {"name": n, "data": d}
bundle("good_dotslash", [{"name": "./", "type": "dir"}, f("./metadata.json", meta), f("./trivy.db", db)])
bundle("extra_entry", [f("metadata.json", meta), f("trivy.db", db), f("evil.sh", b"#!/bin/sh\n")])
bundle("traversal", [f("metadata.json", meta), f("../trivy.db", db)])
bundle("symlink", [f("metadata.json", meta), {"name": "trivy.db", "type": "symlink", "target": "/etc/shadow"}])
bundle("duplicate", [f("metadata.json", meta), f("trivy.db", db), f("trivy.db", db)])
bundle("no_metadata", [f("trivy.db", db)])
bundle("no_db", [f("metadata.json", meta)])
m = json.loads(meta)
m["Version"] = 1
bundle("old_schema", [f("metadata.json", json.dumps(m).encode()), f("trivy.db", db)])
bundle("bad_metadata", [f("metadata.json", b"{not json"), f("trivy.db", db)])
bundle("not_bolt", [f("metadata.json", meta), f("trivy.db", b"\0" * 65536)])
bundle("huge_metadata", [f("metadata.json", b" " * (65 * 1024)), f("trivy.db", db)])
with open(os.path.join(out, "not_gzip.tar.gz"), "wb") as fh:
    fh.write(b"this is not a gzip stream")
with open(os.path.join(out, "truncated.tar.gz"), "wb") as fh:
    good = open(os.path.join(out, "good_dotslash.tar.gz"), "rb").read()
    fh.write(good[: len(good) // 2])
