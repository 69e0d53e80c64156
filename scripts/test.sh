#!/usr/bin/env bash
# The whole test suite: Python (over real gunicorn + gevent, Redis/PostgreSQL-free),
# the JS client and React hook (Node), and the browser tests (Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Chromium for the browser tests comes from Debian (Playwright cannot download browsers here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "chromium is missing: sudo apt-get install chromium fonts-noto-cjk" >&2
    exit 1
  fi
fi

$PY -m ruff check .
$PY -m pytest -q
if [ -f clients/test.sh ]; then
  bash clients/test.sh
fi
