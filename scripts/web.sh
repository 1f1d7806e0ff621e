#!/usr/bin/env bash
# Web UI toolchain: install npm packages when package-lock.json changed, then build or generate.
#   scripts/web.sh build|generate|unit|check
#   scripts/web.sh e2e [SPEC...]     Playwright; SPEC (e.g. e2e/search.spec.ts) limits it to those files
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
    e2e) shift; npm run test:e2e --silent -- "$@" ;;
    unit) npm test --silent ;;
    check)
        # type checks, unit tests, and the generated API client must match the OpenAPI document
        npm run lint --silent
        npm test --silent
        npm run generate:api --silent >/dev/null
        if ! git diff --quiet -- src/api/generated; then
            echo "web: src/api/generated differs from what orval makes of src/core/api/openapi.json;" \
                 "run make generate and commit" >&2
            git diff --stat -- src/api/generated >&2
            exit 1
        fi
        echo "web: lint, unit tests and generated client OK" ;;
    *) echo "usage: $0 build|generate|e2e|unit|check" >&2; exit 2 ;;
esac
