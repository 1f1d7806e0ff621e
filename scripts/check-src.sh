#!/usr/bin/env bash
# Static checks over our C sources: banned functions, then cppcheck over the build's
# compile_commands.json. Generated code (proto/gen) is exempt.
#   scripts/check-src.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dirs=(src tests fuzz bench)
fail=0
banned='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|strtok|gets)[[:space:]]*\('
if hits=$(grep -rnE "$banned" --include='*.c' --include='*.h' "${dirs[@]}" 2>/dev/null); then
    echo "check-src: banned functions (use snprintf, sr_parse_*, strtok_r with bounds):" >&2
    echo "$hits" >&2
    fail=1
fi
# strtol family only inside the checked parsers
if hits=$(grep -rnE '\bstrto(l|ll|ul|ull|d)[[:space:]]*\(' --include='*.c' "${dirs[@]}" 2>/dev/null \
          | grep -v '^src/lib/base/sr_parse.c:'); then
    echo "check-src: raw strtol/strtod outside src/lib/base/sr_parse.c (use sr_parse_*):" >&2
    echo "$hits" >&2
    fail=1
fi
[ $fail -eq 0 ] && echo "check-src: no banned functions"
# documented sample configs are generated from the config tables: they must not drift
for pair in "agent-gateway:deploy/gateway/agent-gateway.conf.example" \
            "serviceradar-core:deploy/core/serviceradar-core.conf.example" \
            "serviceradar-agent:deploy/agent/serviceradar-agent.conf.example"; do
    bin=${pair%%:*}; file=${pair#*:}
    if ! "$build/bin/$bin" --print-default-config | diff -q - "$file" >/dev/null; then
        echo "check-src: $file is stale: regenerate with $build/bin/$bin --print-default-config > $file" >&2
        fail=1
    fi
done
# hardening actually present in the binaries: PIE, full RELRO (BIND_NOW), non-executable stack,
# stack protector and FORTIFY_SOURCE checks
for bin in serviceradar-agent agent-gateway serviceradar-core serviceradar-pki; do
    f="$build/bin/$bin"
    [ -x "$f" ] || { echo "check-src: $f missing" >&2; fail=1; continue; }
    problems=()
    # whole outputs first: grep -q closing a pipe early would fail the pipeline under pipefail
    hdr=$(readelf -h "$f"); seg=$(readelf -lW "$f"); dyn=$(readelf -d "$f"); syms=$(nm -D "$f")
    grep -q 'Type:.*DYN' <<<"$hdr" || problems+=("not PIE")
    grep -q GNU_RELRO <<<"$seg" || problems+=("no RELRO")
    grep -qE 'BIND_NOW|FLAGS_1.*NOW' <<<"$dyn" || problems+=("no BIND_NOW")
    grep GNU_STACK <<<"$seg" | grep -q 'RWE' && problems+=("executable stack")
    grep -q __stack_chk_fail <<<"$syms" || problems+=("no stack protector")
    grep -qE '__[a-z_]+_chk@' <<<"$syms" || problems+=("no FORTIFY_SOURCE")
    if [ ${#problems[@]} -gt 0 ]; then
        echo "check-src: $bin: ${problems[*]}" >&2; fail=1
    fi
done
[ $fail -eq 0 ] && echo "check-src: binaries hardened (PIE, full RELRO, NX stack, stack protector, FORTIFY)"
if [ -f "$build/compile_commands.json" ]; then
    echo "check-src: cppcheck"
    cppcheck --project="$build/compile_commands.json" -q --enable=warning,portability \
        --inline-suppr --error-exitcode=1 -i"$PWD/proto/gen" --suppress='*:*/proto/gen/*' \
        --suppress=missingIncludeSystem -j "$(nproc)" --cppcheck-build-dir="$build" 2>&1 | tail -40
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || { echo "check-src: cppcheck found problems" >&2; fail=1; }
    [ "$rc" -eq 0 ] && echo "check-src: cppcheck clean"
fi
exit $fail
