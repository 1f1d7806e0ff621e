#!/usr/bin/env bash
# Embedding benchmark: builds serviceradar-embedbench in BUILD_DIR and runs it on this machine.
# Usage: scripts/bench-embed.sh BUILD_DIR [serviceradar-embedbench options, e.g. --text message]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shift || true

ninja -C "$build" serviceradar-embedbench >&2

cpu="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)"
echo "machine: $(nproc) CPUs available (${cpu:-unknown CPU}), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory"
echo "load average before the run: $(cut -d ' ' -f 1-3 /proc/loadavg)"
if command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
fi
exec "$build/bin/serviceradar-embedbench" "$@"
