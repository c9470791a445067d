#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine and run it.
#
#   bash tests/run.sh [pytest args...]
#
# - a virtual environment in .venv with the project and its dev extras;
# - PostgreSQL from Debian's packages if it is missing (needs root and apt), and a throwaway
#   cluster on a free loopback port for this run, removed afterwards;
# - moto's AWS server is started by the tests themselves (tests/conftest.py), on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# --- PostgreSQL: a real server for the registry tests -------------------------------------
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}
if ! pg_bin >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tests/run.sh: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
fi
PG_DIR=""
stop_pg() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
    (cd "$PG_DIR" && $AS_PG "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1) || true
    rm -rf "$PG_DIR"
  fi
}
if [ -z "${PROVISIONER_TEST_POSTGRES_URL:-}" ] && PGBIN=$(pg_bin); then
  PG_DIR=$(mktemp -d /tmp/provisioner-pg.XXXXXX)
  AS_PG=""
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root; Debian's package creates the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --home "$PG_DIR" postgres
    chown postgres "$PG_DIR"
    AS_PG="runuser -u postgres --"
  fi
  PG_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  trap stop_pg EXIT
  # From the cluster's own directory: the postgres user may not enter the checkout.
  (cd "$PG_DIR" && $AS_PG "$PGBIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust >/dev/null)
  (cd "$PG_DIR" && $AS_PG "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
    start >/dev/null)
  export PROVISIONER_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "tests/run.sh: PostgreSQL on 127.0.0.1:$PG_PORT" >&2
else
  [ -n "${PROVISIONER_TEST_POSTGRES_URL:-}" ] || echo "tests/run.sh: no PostgreSQL found; its tests will be skipped" >&2
fi

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
