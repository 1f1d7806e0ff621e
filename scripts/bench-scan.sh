#!/usr/bin/env bash
# `make bench-scan`: a full root-filesystem scan by the agent (Trivy linked in) against the
# `trivy` CLI built from the same module version, on the same root filesystem and DB, in the same
# run, offline. The root filesystem is the dev database's Debian 13 one (PostgreSQL 17 with its
# extensions: several hundred packages); the DB is built for it with trivy-db's own package
# (sr-trivydb-fixture --synthetic: an advisory for every installed source package, half of them
# fixed in a later version). Each tool runs RUNS times, alternating; medians are reported.
# Also reports the agent binary's size with and without the bridge.
#
#   scripts/bench-scan.sh BUILD_DIR        (RUNS=3 PARALLEL=2 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
RUNS=${RUNS:-3}
PARALLEL=${PARALLEL:-2}
CACHE=${SR_CACHE:-$HOME/.cache/serviceradar}

log() { printf 'bench-scan: %s\n' "$*" >&2; }

ninja -C "$build" serviceradar-agent >&2
agent=$build/bin/serviceradar-agent
root=$(scripts/devdb.sh rootfs)
cli=$(scripts/trivy.sh cli)
tool=$(scripts/trivy.sh fixture-tool)
work=$(mktemp -d /tmp/bench-scan.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$tool" --rootfs "$root" --out "$work/cache/db" --synthetic 100000 --expected "$work/expected.json" >&2
printf 'scan.parallel = %s\nscan.timeout = 1h\n' "$PARALLEL" >"$work/agent.conf"

measure() { # name outfile cmd...: appends "seconds rss_kb" to $work/<name>.times
    local name=$1 out=$2
    shift 2
    /usr/bin/time -f '%e %M' -o "$work/t" "$@" >"$out" 2>"$work/$name.err" ||
        { cat "$work/$name.err" >&2; log "$name failed"; exit 1; }
    cat "$work/t" >>"$work/$name.times"
}

log "root filesystem $root ($(du -sh --exclude=proc --exclude=sys --exclude=dev "$root" 2>/dev/null | cut -f1)), $RUNS runs each, parallel $PARALLEL"
for i in $(seq "$RUNS"); do
    measure agent "$work/agent.json" "$agent" -c "$work/agent.conf" --scan "$root" --trivy-db "$work/cache/db"
    measure cli "$work/cli.json" "$cli" rootfs --quiet --offline-scan --skip-db-update --skip-java-db-update \
        --scanners vuln --list-all-pkgs --format json --cache-dir "$work/cache" --parallel "$PARALLEL" "$root"
    log "run $i: agent $(tail -n1 "$work/agent.times") cli $(tail -n1 "$work/cli.times") (seconds, max RSS KiB)"
done

read -r same summary < <(python3 - "$work/agent.json" "$work/cli.json" "$work/expected.json" <<'EOF'
import json, sys

def findings(path):
    r = json.load(open(path))
    out, pkgs = set(), 0
    for res in r.get("Results") or []:
        pkgs += len(res.get("Packages") or [])
        for v in res.get("Vulnerabilities") or []:
            out.add((res.get("Class"), res.get("Type"), v["VulnerabilityID"], v["PkgName"], v.get("InstalledVersion"),
                     v.get("FixedVersion", ""), v.get("Severity"), v.get("Status")))
    return out, pkgs

a, ap = findings(sys.argv[1])
c, cp = findings(sys.argv[2])
exp = {(e["id"], e["pkg_name"]) for e in json.load(open(sys.argv[3]))}
same = a == c and ap == cp
print("true" if same else "false",
      f"findings={len(a)} cli_findings={len(c)} packages={ap} cli_packages={cp} "
      f"predicted={len(exp)} agent_matches_prediction={str({(f[2], f[3]) for f in a} == exp).lower()} "
      f"only_agent={len(a - c)} only_cli={len(c - a)}")
EOF
)

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
agent_s=$(cut -d' ' -f1 "$work/agent.times" | median)
cli_s=$(cut -d' ' -f1 "$work/cli.times" | median)
agent_rss=$(cut -d' ' -f2 "$work/agent.times" | median | awk '{printf "%.0f", $1 / 1024}')
cli_rss=$(cut -d' ' -f2 "$work/cli.times" | median | awk '{printf "%.0f", $1 / 1024}')

# Sizes: this agent, stripped, and one built without the bridge (SR_TRIVY=OFF, agent only).
nobridge=$CACHE/bench-agent-notrivy
if [ ! -x "$nobridge/bin/serviceradar-agent" ] || [ "$agent" -nt "$nobridge/bin/serviceradar-agent" ]; then
    log "building the agent without the Trivy bridge in $nobridge"
    cmake -S . -B "$nobridge" -G Ninja -DSR_TRIVY=OFF -DSR_EMBED=OFF >/dev/null
    ninja -C "$nobridge" serviceradar-agent >/dev/null
fi
mb() { awk '{printf "%.1f", $1 / 1048576}'; }
strip -o "$work/a1" "$agent"
strip -o "$work/a0" "$nobridge/bin/serviceradar-agent"
strip -o "$work/c1" "$cli"
echo "sizes: agent_mb=$(stat -c %s "$agent" | mb) agent_stripped_mb=$(stat -c %s "$work/a1" | mb)" \
     "agent_without_bridge_stripped_mb=$(stat -c %s "$work/a0" | mb) trivy_cli_mb=$(stat -c %s "$cli" | mb)" \
     "trivy_cli_stripped_mb=$(stat -c %s "$work/c1" | mb)"
echo "findings: $summary"
echo "bench-scan: agent_s=$agent_s cli_s=$cli_s agent_rss_mb=$agent_rss cli_rss_mb=$cli_rss same_findings=$same"
