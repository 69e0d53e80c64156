#!/usr/bin/env bash
# The whole test suite: Python (over real gunicorn + gevent, with Redis and PostgreSQL),
# the JS client and React hook (Node), the protocol clients (Node), and the browser tests
# (Debian's Chromium).
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

# The distributed mode's tests need the machine's Redis and PostgreSQL; start them if they
# are down (they never skip: a missing service fails the suite).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q && break
  sleep 0.2
done

$PY -m ruff check .
$PY -m mypy
bash clients/test.sh
# The protocols' own clients (ai, @ag-ui/client) that tests/protocols drive from pytest.
(cd tests/protocols/node && npm ci --no-audit --no-fund)
# Last, so its summary closes the output.
$PY -m pytest -q
