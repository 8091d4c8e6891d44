#!/usr/bin/env bash
# A real PostgreSQL server for kconnect tests (CDC and JDBC connectors):
# Debian's postgresql-15 packages, a data directory, port and socket
# directory of its own under the state dir, wal_level=logical, run as an
# unprivileged user (initdb refuses root).
#
#   tests/env/postgres.sh install             install postgresql-15 from Debian (root; idempotent)
#   tests/env/postgres.sh start [STATE_DIR]   initdb once, start (idempotent), print the connection
#   tests/env/postgres.sh stop [STATE_DIR]    stop it (fast shutdown)
#   tests/env/postgres.sh status [STATE_DIR]
#
# stdout of `start` is exactly these lines:
#   POSTGRES_HOST=127.0.0.1
#   POSTGRES_PORT=<port>
#   POSTGRES_USER=postgres
#   POSTGRES_PASSWORD=postgres-secret
#   POSTGRES_TLS_CA=<state>/tls/ca.crt              the CA of the server's certificate
#   POSTGRES_TLS_OTHER_CA=<state>/tls/other-ca.crt  a CA that signed nothing here
#   POSTGRES_TLS_USER=kconnect_tls                  may log in over TLS only
#   POSTGRES_TLS_PASSWORD=tls-secret
#   POSTGRES_CERT_USER=kconnect_cert                logs in with a client certificate only
#   POSTGRES_CERT_FILE=<state>/tls/client.crt       (CN=kconnect_cert, by the CA)
#   POSTGRES_CERT_KEY=<state>/tls/client.key
# TLS is on (ssl=on; the certificate names localhost and 127.0.0.1); other
# roles may use it or not.
# Server log: <state>/postgres/server.log. The superuser `postgres` logs in
# with a password over TCP (scram-sha-256), also for replication; tests
# create their own databases and roles.
set -euo pipefail

PG_VERSION=15
PG_BIN="${KCONNECT_PG_BIN:-/usr/lib/postgresql/$PG_VERSION/bin}"
STATE_ROOT="${1:-}"
DEFAULT_STATE="${KCONNECT_POSTGRES_STATE:-${KCONNECT_TEST_STATE:-/tmp/kconnect-test}/postgres}"
RUN_USER="${KCONNECT_PG_USER:-kconnect-pg}"
SUPERUSER_PASSWORD=postgres-secret
TLS_PASSWORD=tls-secret

log() { printf '[postgres.sh] %s\n' "$*" >&2; }
die() { printf '[postgres.sh] ERROR: %s\n' "$*" >&2; exit 1; }

cmd_install() {
  [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] && return 0
  [[ "$(id -u)" -eq 0 ]] || die "PostgreSQL $PG_VERSION is missing ($PG_BIN); install postgresql-$PG_VERSION (apt-get, as root)"
  log "installing postgresql-$PG_VERSION from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  # No cluster of Debian's own, and no service started by the package.
  mkdir -p /etc/postgresql-common/createcluster.d
  printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/kconnect-test.conf
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [[ -e "$policy" ]] && had_policy=1
  ((had_policy)) || printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  apt-get install -y --no-install-recommends "postgresql-$PG_VERSION" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "postgresql-$PG_VERSION" >/dev/null; }
  ((had_policy)) || rm -f "$policy"
  [[ -x "$PG_BIN/initdb" ]] || die "postgresql-$PG_VERSION installed but $PG_BIN/initdb is missing"
}

resolve_state() {
  local s="${1:-$DEFAULT_STATE}"
  mkdir -p "$s"
  (cd "$s" && pwd -P)
}

# Runs a command as the server's user (root may not run PostgreSQL).
as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u "$RUN_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_user() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  id -u "$RUN_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER" ||
    die "cannot create the user $RUN_USER"
}

# The server's user must reach its state dir: folders on the way that
# others cannot enter (a `mktemp -d` state root is 0700) get o+x.
make_reachable() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  local dir="$1"
  while [[ "$dir" != "/" && -n "$dir" ]]; do
    if ! runuser -u "$RUN_USER" -- test -x "$dir" 2>/dev/null; then
      chmod o+x "$dir" || die "cannot make $dir reachable for $RUN_USER"
    fi
    dir=$(dirname "$dir")
  done
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free loopback port below the ephemeral range (as kafka.sh).
pick_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 10000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free TCP port"
}

print_connection() {
  local state="$1"
  printf 'POSTGRES_HOST=127.0.0.1\nPOSTGRES_PORT=%s\nPOSTGRES_USER=postgres\nPOSTGRES_PASSWORD=%s\n' \
    "$(cat "$state/port")" "$SUPERUSER_PASSWORD"
  printf 'POSTGRES_TLS_CA=%s\nPOSTGRES_TLS_OTHER_CA=%s\nPOSTGRES_TLS_USER=kconnect_tls\nPOSTGRES_TLS_PASSWORD=%s\n' \
    "$state/tls/ca.crt" "$state/tls/other-ca.crt" "$TLS_PASSWORD"
  printf 'POSTGRES_CERT_USER=kconnect_cert\nPOSTGRES_CERT_FILE=%s\nPOSTGRES_CERT_KEY=%s\n' \
    "$state/tls/client.crt" "$state/tls/client.key"
}

# A CA, the server's certificate (localhost, 127.0.0.1), a client
# certificate for kconnect_cert, and an unrelated CA; once per state dir.
ensure_tls() {
  local d="$1/tls"
  [[ -f "$d/client.crt" ]] && return 0
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kconnect test PostgreSQL CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=some other CA" \
      -keyout other-ca.key -out other-ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kconnect_cert" -keyout client.key -out client.csr 2>/dev/null
    # An extension makes it X.509 v3: rustls refuses v1 certificates.
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out client.crt 2>/dev/null
    rm -f ./*.csr ./*.ext
  ) || die "making the TLS certificates"
  # The server refuses a key others can read.
  chmod 600 "$d/server.key"
  if [[ "$(id -u)" -eq 0 ]]; then chown "$RUN_USER" "$d" "$d/server.key" "$d/server.crt" "$d/ca.crt"; fi
}

# Roles that prove TLS is used: pg_hba.conf refuses them without it (first
# match wins, so these lines go first).
ensure_tls_hba() {
  local hba="$1/data/pg_hba.conf"
  grep -q kconnect_tls "$hba" && return 0
  local tmp
  tmp=$(mktemp)
  {
    echo "hostnossl all,replication kconnect_tls 0.0.0.0/0 reject"
    echo "hostssl   all,replication kconnect_cert 127.0.0.1/32 cert"
    echo "host      all,replication kconnect_cert 0.0.0.0/0 reject"
    cat "$hba"
  } >"$tmp"
  cat "$tmp" >"$hba"
  rm -f "$tmp"
}

ensure_tls_roles() {
  local state="$1"
  as_pg "$PG_BIN/psql" -h "$state/run" -p "$(cat "$state/port")" -U postgres -d postgres -qAt \
    -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kconnect_tls') THEN
        CREATE ROLE kconnect_tls LOGIN SUPERUSER REPLICATION PASSWORD '$TLS_PASSWORD';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kconnect_cert') THEN
        CREATE ROLE kconnect_cert LOGIN SUPERUSER REPLICATION;
      END IF;
    END \$\$;" >/dev/null || die "creating the TLS roles"
}

running() {
  local state="$1"
  [[ -f "$state/data/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$state/data" status >/dev/null 2>&1
}

cmd_start() {
  local state port
  state=$(resolve_state "${1:-}")
  exec 9>"$state/.lock"
  flock 9
  cmd_install
  ensure_user
  if running "$state"; then
    log "already running (state $state)"
    print_connection "$state"
    exec 9>&-
    return 0
  fi
  mkdir -p "$state/run"
  make_reachable "$state"
  if [[ "$(id -u)" -eq 0 ]]; then chown "$RUN_USER" "$state" "$state/run"; fi
  if [[ ! -f "$state/data/PG_VERSION" ]]; then
    log "initdb in $state/data"
    rm -rf "$state/data"
    local pwfile="$state/.pwfile"
    printf '%s\n' "$SUPERUSER_PASSWORD" >"$pwfile"
    if [[ "$(id -u)" -eq 0 ]]; then chown "$RUN_USER" "$pwfile"; fi
    as_pg "$PG_BIN/initdb" -D "$state/data" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 ||
      { cat "$state/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    cat >>"$state/data/pg_hba.conf" <<EOF
# kconnect tests: replication connections over TCP too
host replication all 127.0.0.1/32 scram-sha-256
EOF
  fi
  ensure_tls "$state"
  ensure_tls_hba "$state"
  port=$(pick_port)
  echo "$port" >"$state/port"
  # Settings on the command line: the data directory stays as initdb made it.
  log "starting PostgreSQL $PG_VERSION on 127.0.0.1:$port, state $state"
  as_pg "$PG_BIN/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 start -o "\
    -c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$state/run \
    -c wal_level=logical -c max_wal_senders=20 -c max_replication_slots=20 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c shared_buffers=64MB -c max_connections=100 \
    -c ssl=on -c ssl_cert_file=$state/tls/server.crt -c ssl_key_file=$state/tls/server.key \
    -c ssl_ca_file=$state/tls/ca.crt" >/dev/null 9>&- ||
    { tail -n 30 "$state/server.log" >&2 || true; die "PostgreSQL did not start"; }
  ensure_tls_roles "$state"
  print_connection "$state"
  exec 9>&-
}

cmd_stop() {
  local state
  state=$(resolve_state "${1:-}")
  [[ -f "$state/data/postmaster.pid" ]] || return 0
  log "stopping PostgreSQL (state $state)"
  as_pg "$PG_BIN/pg_ctl" -D "$state/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

cmd_status() {
  local state
  state=$(resolve_state "${1:-}")
  if running "$state"; then
    echo "running"
    print_connection "$state"
  else
    echo "stopped"
    return 3
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "${1:-}" ;;
  stop) shift; cmd_stop "${1:-}" ;;
  status) shift; cmd_status "${1:-}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
