#!/usr/bin/env bash
# Installs the clients' dev dependencies from their lockfiles and runs both test suites:
# clients/js with Node's test runner, clients/react with Vitest. Exits non-zero if either fails.
set -uo pipefail
cd "$(dirname "$0")"

for pkg in js react; do
  (cd "$pkg" && npm ci --no-audit --no-fund) || { echo "npm ci failed in clients/$pkg" >&2; exit 1; }
done

status=0
(cd js && npm test) || status=1
(cd react && npm test) || status=1
exit "$status"
