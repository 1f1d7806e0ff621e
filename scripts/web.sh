#!/usr/bin/env bash
# Web UI toolchain: install npm packages when package-lock.json changed, then build or generate.
#   scripts/web.sh build|generate|e2e
set -euo pipefail
cd "$(dirname "$0")/../web"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.sr-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "web: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi
case "${1:-build}" in
    build) npm run build --silent ;;
    generate) npm run generate:api --silent ;;
    e2e) npm run test:e2e --silent ;;
    unit) npm test --silent ;;
    *) echo "usage: $0 build|generate|e2e|unit" >&2; exit 2 ;;
esac
