#!/usr/bin/env bash
# Benchmark: a real 100 MiB Trivy DB bundle (sr-trivydb-fixture --pad-mb) from the gateway to 10
# agents over loopback (real nats-server, agent-gateway and agents, installed by the real installer).
# See bench/distribute/bench_distribute.py; needs a build with SR_TRIVY=ON (the default).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/distribute/bench_distribute.py "${1:-build}"
