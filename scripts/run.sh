#!/usr/bin/env bash
# `make run`: the whole stack on this host until Ctrl-C. State lives in .data/.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/srstack.py run "${1:-build}"
