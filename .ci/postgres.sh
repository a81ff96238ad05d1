#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for minstore's tests, on 127.0.0.1 with its own data directory and
# port; nothing outside DIR is touched (apart from `install`). Used by .ci/run, by the tests that
# stop and restart a database (tests/helpers/postgres.ts), and by hand on a laptop:
#
#   bash .ci/postgres.sh check          # exit 0 when initdb, pg_ctl and psql are here
#   bash .ci/postgres.sh version        # the server's version, e.g. 15.14
#   bash .ci/postgres.sh install        # apt-get install postgresql when initdb/pg_ctl are missing (root)
#   bash .ci/postgres.sh start DIR      # initdb (first time) + start; prints the connection URL
#   bash .ci/postgres.sh stop DIR       # fast shutdown (the cluster can be started again, same port)
#   bash .ci/postgres.sh remove DIR     # stop if running, then delete DIR (a pair's two clusters too)
#
# A primary with a synchronous streaming standby, for fail-over tests (DIR/primary and DIR/standby,
# each a cluster as `start` makes one):
#
#   bash .ci/postgres.sh start-pair DIR  # prints the multi-host URL (primary's port first)
#   bash .ci/postgres.sh crash DIR/primary   # pg_ctl stop -m immediate: as if the machine died
#   bash .ci/postgres.sh promote DIR/standby # pg_ctl promote: the standby takes writes
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user that
# Debian's package creates, and DIR is handed to it.
set -euo pipefail

PG_USER=minstore
PG_PASSWORD=minstore-test
PG_DB=minstore_test

find_bin() {
  local name=$1 candidate
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for candidate in /usr/lib/postgresql/*/bin/"$name"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  return 1
}

# Runs a PostgreSQL binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

cmd_check() {
  find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null && find_bin psql >/dev/null && find_bin pg_basebackup >/dev/null
}

cmd_install() {
  if cmd_check; then return; fi
  echo "postgres.sh: initdb/pg_ctl not found; installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

cmd_start() {
  local dir=${1:?usage: postgres.sh start DIR}
  local initdb pg_ctl port
  initdb=$(find_bin initdb) || { echo "postgres.sh: initdb not found (bash .ci/postgres.sh install)" >&2; exit 1; }
  pg_ctl=$(find_bin pg_ctl) || { echo "postgres.sh: pg_ctl not found (bash .ci/postgres.sh install)" >&2; exit 1; }
  find_bin psql >/dev/null || { echo "postgres.sh: psql not found (bash .ci/postgres.sh install)" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    port=$(free_port)
    echo "$port" >"$dir/port"
    echo "$PG_PASSWORD" >"$dir/pwfile"
    if [ "$(id -u)" = 0 ]; then
      # Debian's package creates the user; binaries from elsewhere may not have.
      id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
      chown -R postgres: "$dir"
    fi
    # Password authentication over TCP, as a real deployment has; trust on the private socket only.
    as_owner "$initdb" -D "$dir/data" -U "$PG_USER" --pwfile="$dir/pwfile" --auth-host=scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
  fi
  port=$(cat "$dir/port")
  # fsync stays on: the tests check that acknowledged writes survive a stop.
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  if [ ! -f "$dir/created" ] && [ ! -f "$dir/data/standby.signal" ]; then
    as_owner "$(find_bin psql)" -h "$dir" -p "$port" -U "$PG_USER" -d postgres -q \
      -c "CREATE DATABASE $PG_DB" >/dev/null
    touch "$dir/created"
  fi
  echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
}

cmd_stop() {
  local dir=${1:?usage: postgres.sh stop DIR} mode=${2:-fast}
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m "$mode" -w stop >/dev/null
}

cmd_remove() {
  local dir=${1:?usage: postgres.sh remove DIR} cluster
  # Immediate: a pair's standby could wait on its dead primary otherwise, and the files go anyway.
  for cluster in "$dir" "$dir/primary" "$dir/standby"; do cmd_stop "$cluster" immediate || true; done
  rm -rf "$dir"
}

# The standby's name in the primary's synchronous_standby_names (its application_name).
STANDBY_NAME=minstore_standby

cmd_start_pair() {
  local dir=${1:?usage: postgres.sh start-pair DIR}
  local primary standby port
  psql_primary() { as_owner "$(find_bin psql)" -h "$primary" -p "$(cat "$primary/port")" -U "$PG_USER" -d postgres -q "$@"; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  primary=$dir/primary
  standby=$dir/standby
  # The clusters' owner must reach them through DIR (mktemp -d makes it private to root).
  if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 && chown postgres: "$dir"; fi
  cmd_start "$primary" >/dev/null
  mkdir -p "$standby"
  port=$(free_port)
  echo "$port" >"$standby/port"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$standby"; fi
  # -R writes standby.signal; primary_conninfo is ours, to carry the name the primary waits for.
  PGPASSWORD=$PG_PASSWORD as_owner "$(find_bin pg_basebackup)" -h 127.0.0.1 -p "$(cat "$primary/port")" -U "$PG_USER" \
    -D "$standby/data" -X stream -R --checkpoint=fast >"$standby/basebackup.log" 2>&1 || { cat "$standby/basebackup.log" >&2; exit 1; }
  echo "primary_conninfo = 'host=127.0.0.1 port=$(cat "$primary/port") user=$PG_USER password=$PG_PASSWORD application_name=$STANDBY_NAME'" |
    as_owner tee -a "$standby/data/postgresql.auto.conf" >/dev/null
  cmd_start "$standby" >/dev/null
  # Synchronous only now, set on the primary after the copy: the promoted standby, whose files are a copy
  # of the primary's, must not wait for a standby of its own that does not exist. synchronous_commit is on
  # (the default): a commit returns once the standby has flushed its WAL too.
  psql_primary -c "ALTER SYSTEM SET synchronous_standby_names = '$STANDBY_NAME'" -c "ALTER SYSTEM SET synchronous_commit = on" \
    -c "SELECT pg_reload_conf()" >/dev/null
  # Until the standby streams, every commit on the primary waits: be ready only once it is in sync.
  local tries=0
  until [ "$(psql_primary -tA -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$STANDBY_NAME' AND sync_state = 'sync'")" = 1 ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "postgres.sh: the standby did not reach sync state" >&2; cat "$standby/server.log" >&2; exit 1; }
    sleep 0.1
  done
  # postgres.js tries the hosts in turn and keeps the one that takes writes.
  echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$(cat "$primary/port"),127.0.0.1:$port/$PG_DB?target_session_attrs=read-write"
}

cmd_promote() {
  local dir=${1:?usage: postgres.sh promote DIR}
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -w -t 60 promote >/dev/null
}

case "${1:-}" in
  check) cmd_check ;;
  version) "$(find_bin postgres)" --version | awk '{print $3}' ;;
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  remove) cmd_remove "${2:-}" ;;
  start-pair) cmd_start_pair "${2:-}" ;;
  crash) cmd_stop "${2:?usage: postgres.sh crash DIR}" immediate ;;
  promote) cmd_promote "${2:-}" ;;
  *) echo "usage: postgres.sh check | version | install | start DIR | stop DIR | remove DIR | start-pair DIR | crash DIR | promote DIR" >&2; exit 2 ;;
esac
