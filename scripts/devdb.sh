#!/usr/bin/env bash
# Dev database: PostgreSQL 17 + TimescaleDB, pgvector, Apache AGE, PostGIS in a cached
# Debian 13 root filesystem, listening on 127.0.0.1 only.
#   scripts/devdb.sh ensure|start|stop|status|psql [args]|nats-server-path|rootfs
# Environment: SR_CACHE (default ~/.cache/serviceradar), SR_PGPORT (default 55432),
#              SR_PGDATA (cluster directory inside the rootfs, default /var/lib/serviceradar/pg).
set -euo pipefail

CACHE=${SR_CACHE:-$HOME/.cache/serviceradar}
ROOT=$CACHE/rootfs-trixie
PORT=${SR_PGPORT:-55432}
PGDATA_IN=${SR_PGDATA:-/var/lib/serviceradar/pg}
PGBIN=/usr/lib/postgresql/17/bin
PKGS="postgresql-17 postgresql-17-timescaledb postgresql-17-pgvector postgresql-17-age postgresql-17-postgis-3 nats-server"

log() { printf 'devdb: %s\n' "$*" >&2; }
die() { printf 'devdb: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"

mounted() { mountpoint -q "$1"; }

mount_fs() {
    mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mounted "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

in_root() { chroot "$ROOT" "$@"; }
as_pg() { chroot --userspec=postgres:postgres "$ROOT" env HOME=/var/lib/postgresql "$@"; }

ensure_rootfs() {
    if [ -f "$ROOT/.serviceradar-ready" ]; then return 0; fi
    command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
    mkdir -p "$CACHE"
    if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
        rm -rf "$ROOT.tmp"
        log "creating Debian 13 root filesystem in $ROOT (about 30 s)"
        debootstrap --variant=minbase trixie "$ROOT.tmp" >"$CACHE/debootstrap.log" 2>&1 \
            || die "debootstrap failed, see $CACHE/debootstrap.log"
        mv "$ROOT.tmp" "$ROOT"
    fi
    mount_fs
    log "installing PostgreSQL 17 and extensions in the root filesystem (about 30 s)"
    in_root apt-get update -q >"$CACHE/apt.log" 2>&1 || die "apt-get update in rootfs failed, see $CACHE/apt.log"
    DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -q --no-install-recommends $PKGS \
        >>"$CACHE/apt.log" 2>&1 || die "package install in rootfs failed, see $CACHE/apt.log"
    touch "$ROOT/.serviceradar-ready"
}

ensure_cluster() {
    if [ -f "$ROOT$PGDATA_IN/PG_VERSION" ]; then return 0; fi
    log "initializing cluster at $ROOT$PGDATA_IN"
    mkdir -p "$ROOT$PGDATA_IN"
    in_root chown -R postgres:postgres "$(dirname "$PGDATA_IN")"
    as_pg $PGBIN/initdb -D "$PGDATA_IN" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
        || die "initdb failed"
    cat >>"$ROOT$PGDATA_IN/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '/tmp'
shared_preload_libraries = 'timescaledb,age'
timescaledb.telemetry_level = off
max_connections = 100
shared_buffers = 512MB
synchronous_commit = on
fsync = on
CONF
    # trust on loopback is for the dev database only; production uses scram (see docs)
}

# Tuning for the ingest path, kept in conf.d so that clusters created by an older version of this
# script pick it up too (rewritten on every start; a running server is reloaded). Durability stays
# as it is: synchronous_commit and fsync on, because the core acknowledges JetStream messages only
# after COMMIT returns. Larger WAL between checkpoints means fewer full-page images; lz4 shrinks
# those that remain.
ensure_conf() {
    local conf="$ROOT$PGDATA_IN/postgresql.conf" dir="$ROOT$PGDATA_IN/conf.d"
    grep -q "^include_dir = 'conf.d'" "$conf" || printf "include_dir = 'conf.d'\n" >>"$conf"
    mkdir -p "$dir"
    cat >"$dir/serviceradar.conf.tmp" <<CONF
max_wal_size = 4GB
min_wal_size = 512MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
wal_compression = lz4
synchronous_commit = on
fsync = on
CONF
    mv "$dir/serviceradar.conf.tmp" "$dir/serviceradar.conf"
    in_root chown -R postgres:postgres "$PGDATA_IN/conf.d"
}

is_running() { as_pg $PGBIN/pg_ctl -D "$PGDATA_IN" status >/dev/null 2>&1; }

start() {
    ensure_rootfs
    mount_fs
    ensure_cluster
    ensure_conf
    if is_running; then
        as_pg $PGBIN/pg_ctl -D "$PGDATA_IN" reload >/dev/null || true
        log "already running on 127.0.0.1:$PORT"
        return 0
    fi
    as_pg $PGBIN/pg_ctl -D "$PGDATA_IN" -l "$PGDATA_IN/server.log" -w -t 60 start >/dev/null \
        || die "postgres did not start, see $ROOT$PGDATA_IN/server.log"
    log "running on 127.0.0.1:$PORT"
}

stop() {
    [ -d "$ROOT" ] || return 0
    if mounted "$ROOT/proc" && is_running; then
        as_pg $PGBIN/pg_ctl -D "$PGDATA_IN" -m fast -w stop >/dev/null
        log "stopped"
    fi
}

status() {
    if [ -d "$ROOT/proc" ] && mounted "$ROOT/proc" && is_running; then
        echo "running on 127.0.0.1:$PORT (data $ROOT$PGDATA_IN)"
    else
        echo "stopped"; return 3
    fi
}

case "${1:-}" in
    ensure) ensure_rootfs; mount_fs; ensure_cluster; ensure_conf ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    psql) shift; mount_fs; in_root /usr/bin/psql -h 127.0.0.1 -p "$PORT" -U postgres "$@" ;;
    nats-server-path) ensure_rootfs; echo "$ROOT/usr/sbin/nats-server" ;;
    rootfs) ensure_rootfs; mount_fs; echo "$ROOT" ;;
    *) echo "usage: $0 ensure|start|stop|status|psql [args]|nats-server-path|rootfs" >&2; exit 2 ;;
esac
