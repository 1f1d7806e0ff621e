#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan + UBSan) and runs each for a few seconds on a
# copy of its committed corpus. A crash fails the run and leaves the input in BUILD/crashes/.
#   scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}; secs=${2:-20}
if [ ! -f "$build/build.ninja" ]; then
    CC=clang cmake -S . -B "$build" -G Ninja -DSR_WERROR=ON -DSR_SANITIZE=ON -DSR_FUZZ=ON >/dev/null
fi
ninja -C "$build" -j"$(nproc)" >/dev/null
mkdir -p "$build/crashes"
fail=0
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    case "$bin" in *_replay) continue ;; esac
    name=$(basename "$bin")
    work=$(mktemp -d)
    cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=0 \
            -artifact_prefix="$build/crashes/$name-" "$work" >"$build/crashes/$name.log" 2>&1; then
        echo "fuzz: $name FAILED; log $build/crashes/$name.log, inputs $build/crashes/$name-*" >&2
        tail -30 "$build/crashes/$name.log" >&2
        fail=1
    fi
    rm -rf "$work"
done
[ $fail -eq 0 ] && echo "fuzz: all targets ran clean"
exit $fail
