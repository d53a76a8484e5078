#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the test suite and print its URL.
# Installs Debian's postgresql package when the machine has none. Usage:
#   scripts/pg-test-server.sh [DIR] [PORT]      (stop: pg_ctl -D DIR/data stop)
set -euo pipefail
dir=${1:-/tmp/reactivate-pg}
port=${2:-55432}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ]; then
  echo "installing PostgreSQL (Debian package)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
if [ -f "$dir/data/postmaster.pid" ]; then run "$pgbin/pg_ctl -D $dir/data -m fast stop" >&2 || true; fi
rm -rf "$dir"
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
run "$pgbin/initdb -D $dir/data -A trust -U postgres" >/dev/null
run "$pgbin/pg_ctl -D $dir/data -o \"-h 127.0.0.1 -p $port -k $dir\" -l $dir/server.log -w start" >&2
run "$pgbin/createdb -h 127.0.0.1 -p $port -U postgres reactivate_test"
echo "postgresql+psycopg://postgres@127.0.0.1:$port/reactivate_test"
