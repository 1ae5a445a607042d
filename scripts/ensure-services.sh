#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer: starts them when installed but
# stopped, installs them with apt-get when absent. Used by `make test`, `make bench` and CI (the capacity
# benchmark needs nothing else: its load generator is benchmarks/capacity/paced.py).
# Also installs Debian's `chromium` and a Chinese font when absent: the browser tests (tests/browser) drive
# /usr/bin/chromium with Playwright; nothing ever downloads a browser build of its own (no `playwright install`).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c5 <&3 | grep -q PONG) 2>/dev/null; }
apt_updated=0
apt_install() {
  [ "$apt_updated" = 1 ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

ensure_postgres() {
  pg_up && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "PostgreSQL not installed: installing it with apt-get"
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for pg_up || { echo "PostgreSQL did not start" >&2; exit 1; }
  # trust auth for local TCP connections, as the test settings expect
  if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    local hba=/etc/postgresql/$version/main/pg_hba.conf
    sed -i 's/^\(host\s\+all\s\+all\s\+127.0.0.1\/32\s\+\)\S\+/\1trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
}

ensure_redis() {
  redis_up && return 0
  command -v redis-server >/dev/null || { echo "Redis not installed: installing it with apt-get"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis_up || { echo "Redis did not start" >&2; exit 1; }
}

ensure_chromium() {
  # a Chinese font too, or the screenshots show boxes instead of characters
  [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -q . && return 0
  echo "Chromium or a Chinese font not installed: installing them with apt-get (browser tests)"
  apt_install chromium fonts-wqy-microhei
}

ensure_postgres
ensure_redis
ensure_chromium
echo "PostgreSQL, Redis and Chromium are ready"
