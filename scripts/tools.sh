#!/usr/bin/env bash
# Installs the Go-based developer tools the tests use (interop checks with independent
# implementations) into a cache directory, idempotently, from the Go module proxy:
#   grpcurl  (grpc-go client)      github.com/fullstorydev/grpcurl/cmd/grpcurl
#   nats     (NATS CLI, nats.go)   github.com/nats-io/natscli/nats
# Usage: scripts/tools.sh [grpcurl|nats]...   (default: both)
# Prints the bin directory (last line of stdout). Versions are pinned below.
set -euo pipefail
GRPCURL_VERSION=v1.9.3
NATSCLI_VERSION=v0.5.1

cache=${SR_CACHE:-$HOME/.cache/serviceradar}
bin=$cache/bin
mkdir -p "$bin"
command -v go >/dev/null 2>&1 || { echo "tools.sh: go not found (install Go >= 1.22)" >&2; exit 1; }

# install NAME MODULE_PATH VERSION: builds into $bin unless the stamped version is already there
install_tool() {
    local name=$1 pkg=$2 version=$3 stamp="$bin/.$1.version"
    if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
        return 0
    fi
    echo "tools.sh: installing $pkg@$version" >&2
    GOBIN="$bin" GOFLAGS=-mod=mod CGO_ENABLED=0 go install "$pkg@$version" >&2
    printf '%s\n' "$pkg@$version" > "$stamp"
}

tools=("$@"); [ ${#tools[@]} -gt 0 ] || tools=(grpcurl nats)
for t in "${tools[@]}"; do
    case $t in
    grpcurl) install_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION" ;;
    nats) install_tool nats github.com/nats-io/natscli/nats "$NATSCLI_VERSION" ;;
    *) echo "tools.sh: unknown tool $t" >&2; exit 2 ;;
    esac
done
echo "$bin"
