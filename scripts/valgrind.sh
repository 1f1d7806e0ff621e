#!/usr/bin/env bash
# Runs every ctest test labelled "unit" under valgrind memcheck (definite leaks and invalid
# accesses fail), from the plain (non-sanitizer) build.
#   scripts/valgrind.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
supp="$PWD/tests/support/valgrind.supp"
mapfile -t cmds < <(ctest --test-dir "$build" -N -L unit --show-only=json-v1 | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin)["tests"]:
    print(t["name"] + "\t" + shlex.join(t["command"]))
')
fail=0
for line in "${cmds[@]}"; do
    name=${line%%$'\t'*}; cmd=${line#*$'\t'}
    log="$build/valgrind-$name.log"
    rc=0
    eval "valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
              --suppressions=$supp -q --log-file=$log $cmd" >/dev/null 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
        echo "valgrind: $name clean"
    elif [ $rc -eq 77 ]; then
        echo "valgrind: $name SKIPPED (its data is absent; ctest reports it as skipped too)"
    else
        echo "valgrind: $name FAILED (see $log)" >&2
        tail -20 "$log" >&2
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "valgrind: all unit tests clean"
exit $fail
