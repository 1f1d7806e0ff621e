#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and `make run` need. Idempotent: apt runs
# only when something is missing.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libnats-dev libpq-dev
      libmicrohttpd-dev libjansson-dev libcmocka-dev libssl-dev libcurl4-openssl-dev libsystemd-dev libutf8proc-dev
      systemd-journal-remote
      clang llvm libfuzzer-14-dev libclang-rt-14-dev cppcheck clang-tidy valgrind
      nats-server debootstrap chromium postgresql-client python3 python3-pytest python3-pip python3-venv nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian on some machines: accept any working ones
if command -v node >/dev/null && command -v npm >/dev/null; then
    tmp=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
if command -v pytest >/dev/null || python3 -c 'import pytest' 2>/dev/null; then
    tmp=(); for p in "${missing[@]+"${missing[@]}"}"; do [ "$p" = python3-pytest ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
# the same for pip and venv of a python3 that is not Debian's (pyenv and the like)
if python3 -m pip --version >/dev/null 2>&1; then
    tmp=(); for p in "${missing[@]+"${missing[@]}"}"; do [ "$p" = python3-pip ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
    tmp=(); for p in "${missing[@]+"${missing[@]}"}"; do [ "$p" = python3-venv ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all packages present"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "deps: error: need root to install: ${missing[*]}" >&2; exit 1; }
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
