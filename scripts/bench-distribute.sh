#!/usr/bin/env bash
# Benchmark: a 100 MB Trivy DB bundle from the gateway to 10 agents over loopback (real nats-server,
# agent-gateway and agents). See bench/distribute/bench_distribute.py; needs a build with
# -DSR_FAULT_INJECTION=ON (the installer stand-in), e.g. `make bench-distribute BUILD=build-fi`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/distribute/bench_distribute.py "${1:-build}"
