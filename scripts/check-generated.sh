#!/usr/bin/env bash
# Regenerates the protobuf-c code into a temporary folder and compares it with the committed copy.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd proto && protoc-c --c_out="$tmp" serviceradar/agent/v1/agent.proto)
if ! diff -r "$tmp" proto/gen >/dev/null; then
    echo "check-generated: proto/gen differs from protoc-c output; run make generate and commit" >&2
    diff -r "$tmp" proto/gen | head -20 >&2
    exit 1
fi
echo "check-generated: proto/gen is up to date"
