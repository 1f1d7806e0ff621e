#!/usr/bin/env bash
# The Trivy side of the build, cached outside git under $SR_CACHE/trivy. Go is needed at build
# time only; the Trivy module version is pinned in src/agent/scan/trivy/go.mod (go.sum verifies it).
#
#   scripts/trivy.sh bridge OUTDIR    libsrtrivy.a + libsrtrivy.h (the agent's c-archive) into OUTDIR
#   scripts/trivy.sh cli              the `trivy` CLI of the same module version; prints its path
#   scripts/trivy.sh fixture-tool     sr-trivydb-fixture (test DB builder); prints its path
#   scripts/trivy.sh rootfs           the test root filesystem (Debian 13 minbase + one npm package);
#                                     prints its path
#
# Each Go output is cached under a key made of the Go sources, go.mod, go.sum and the Go version,
# so a second build directory or a CI rerun reuses it; the first build takes minutes (module
# download, then compiling Trivy). Builds are serialized with a lock.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=${SR_CACHE:-$HOME/.cache/serviceradar}
TOP=$CACHE/trivy
MOD=$REPO/src/agent/scan/trivy

log() { printf 'trivy: %s\n' "$*" >&2; }
die() { printf 'trivy: error: %s\n' "$*" >&2; exit 1; }

export GOEXPERIMENT=jsonv2 GOTOOLCHAIN=local CGO_ENABLED=1 GOFLAGS=-mod=readonly
command -v go >/dev/null || die "Go is needed to build the Trivy bridge (or configure with -DSR_TRIVY=OFF)"

mkdir -p "$TOP"
exec 9>"$TOP/.lock"
flock 9

key() { # what a Go output depends on
    { go version; echo "$GOEXPERIMENT"; cat "$MOD/go.mod" "$MOD/go.sum"; cat "$@"; } | sha256sum | cut -c1-16
}

# build NAME KEY CMD...: runs CMD in the module with $OUT set to a fresh directory, then keeps it
# as $TOP/NAME/KEY (beyond the three newest, older keys of NAME are removed). Prints the directory.
build() {
    local name=$1 k=$2
    shift 2
    local dir=$TOP/$name/$k
    if [ ! -f "$dir/.ok" ]; then
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        log "building $name (first time for this source: minutes; later runs use $dir)"
        local t0=$SECONDS
        (cd "$MOD" && OUT=$dir.tmp "$@") >&2 || { rm -rf "$dir.tmp"; die "could not build $name"; }
        log "built $name in $((SECONDS - t0)) s"
        touch "$dir.tmp/.ok"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
        # Keep the three newest outputs (two checkouts at different commits do not rebuild each
        # other's), drop older ones (an archive is about 500 MB).
        ls -1dt "$TOP/$name"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
    fi
    echo "$dir"
}

go_bridge() { go build -buildmode=c-archive -trimpath -o "$OUT/libsrtrivy.a" ./bridge; }
go_cli() { go build -trimpath -o "$OUT/trivy" github.com/aquasecurity/trivy/cmd/trivy; }
go_fixture() { go build -trimpath -o "$OUT/sr-trivydb-fixture" ./cmd/sr-trivydb-fixture; }

rootfs() {
    local root=$TOP/rootfs-minbase
    if [ ! -f "$root/.serviceradar-ready" ]; then
        command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
        rm -rf "$root.tmp"
        log "creating the test root filesystem (Debian 13 minbase) in $root (about 30 s)"
        debootstrap --variant=minbase trixie "$root.tmp" >"$TOP/debootstrap.log" 2>&1 \
            || die "debootstrap failed, see $TOP/debootstrap.log"
        # One language package, so scans cover Trivy's language analyzers as well as dpkg.
        mkdir -p "$root.tmp/usr/lib/node_modules/lodash"
        printf '{"name":"lodash","version":"4.17.20","license":"MIT"}\n' \
            >"$root.tmp/usr/lib/node_modules/lodash/package.json"
        touch "$root.tmp/.serviceradar-ready"
        mv "$root.tmp" "$root"
    fi
    echo "$root"
}

case "${1:-}" in
bridge)
    [ $# -eq 2 ] || die "usage: $0 bridge OUTDIR"
    dir=$(build bridge "$(key "$MOD"/bridge/*.go)" go_bridge)
    mkdir -p "$2"
    for f in libsrtrivy.a libsrtrivy.h; do
        # A hard link to the cached file (or a copy across filesystems), replaced whole; touched
        # so the build tool sees an output newer than its inputs (the cached file may be older).
        rm -f "$2/$f.tmp"
        ln "$dir/$f" "$2/$f.tmp" 2>/dev/null || cp "$dir/$f" "$2/$f.tmp"
        rm -f "$2/$f"
        mv "$2/$f.tmp" "$2/$f"
        touch "$2/$f"
    done
    ;;
cli) echo "$(build cli "$(key)" go_cli)/trivy" ;;
fixture-tool) echo "$(build fixture "$(key "$MOD"/cmd/sr-trivydb-fixture/*.go)" go_fixture)/sr-trivydb-fixture" ;;
rootfs) rootfs ;;
*) echo "usage: $0 bridge OUTDIR | cli | fixture-tool | rootfs" >&2; exit 2 ;;
esac
