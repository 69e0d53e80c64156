#!/usr/bin/env bash
# The whole test suite: Python (over real gunicorn + gevent, Redis/PostgreSQL-free),
# the JS client and React hook (Node), and the browser tests (Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Chromium and a Korean font for the browser tests come from Debian (Playwright cannot
# download browsers here), and so does nginx, which the nginx tests run in front of gunicorn.
if ! command -v chromium >/dev/null 2>&1 || [ -z "$(fc-list :lang=ko 2>/dev/null)" ] \
  || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk nginx >/dev/null
  else
    echo "chromium or nginx is missing: sudo apt-get install chromium fonts-noto-cjk nginx" >&2
    exit 1
  fi
fi

$PY -m ruff check .
bash clients/test.sh
# Last, so its summary closes the output.
$PY -m pytest -q
