#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running on this machine, starting (and,
# on a fresh Debian machine, installing) whatever is missing. Idempotent: run it any time.
#
#   scripts/services.sh [up|status]
#
# PostgreSQL primary  127.0.0.1:5432  role/db midaz (password midaz)
# PostgreSQL replica  127.0.0.1:5433  streaming standby of the primary (pg_basebackup -R)
# Redis / Valkey      127.0.0.1:6379
# RabbitMQ            127.0.0.1:5672  guest/guest
set -euo pipefail

REPLICA_PORT=5433
REPLICA_DIR=${MIDAZ_REPLICA_DIR:-/var/lib/postgresql/midaz-replica-5433}
REPLICA_LOG=${REPLICA_DIR}.log
DB_ROLE=midaz
DB_PASSWORD=midaz
DB_NAME=midaz

say() { printf '%-10s %s\n' "$1" "$2"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root runuser -u postgres -- "$@"; }

apt_updated=0
ensure_package() { # ensure_package <command-to-test> <package>...
    command -v "$1" >/dev/null 2>&1 && return 0
    [ -x "/usr/lib/postgresql/$(pg_version 2>/dev/null)/bin/$1" ] && return 0
    shift
    say install "$*"
    if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

wait_for() { # wait_for <seconds> <command...>
    local limit=$1; shift
    for _ in $(seq 1 "$((limit * 5))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- PostgreSQL primary ------------------------------------------------------------------------
primary_up() {
    ensure_package pg_ctlcluster postgresql
    local version; version=$(pg_version)
    [ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql"
    if pg_isready -q -h 127.0.0.1 -p 5432; then
        say postgres "primary already running (PostgreSQL $version)"
    else
        say postgres "starting primary (PostgreSQL $version)"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        wait_for 30 pg_isready -q -h 127.0.0.1 -p 5432 || die "primary did not start"
    fi
    # The application role works under trust or scram-sha-256 alike, since it has a password.
    as_postgres psql -qAtX -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE') THEN
    CREATE ROLE $DB_ROLE LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SQL
    # The standby copies the primary over a replication connection on the local socket; some
    # machines ship a pg_hba.conf without any replication entry.
    if [ "$(as_postgres psql -qAtX -c \
        "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database)")" = 0 ]; then
        local hba; hba=$(as_postgres psql -qAtX -c 'SHOW hba_file')
        say postgres "allowing local replication connections in $hba"
        printf 'local replication postgres peer\n' | as_root tee -a "$hba" >/dev/null
        as_postgres psql -qAtX -c 'SELECT pg_reload_conf()' >/dev/null
    fi
    if [ "$(as_postgres psql -qAtX -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        as_postgres createdb -O "$DB_ROLE" "$DB_NAME"
        say postgres "created database $DB_NAME"
    fi
}

# --- PostgreSQL streaming replica --------------------------------------------------------------
replica_is_standby() {
    [ "$(PGPASSWORD=$DB_PASSWORD psql -qAtX -h 127.0.0.1 -p "$REPLICA_PORT" -U "$DB_ROLE" -d "$DB_NAME" \
        -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}

replica_start() {
    local bin=/usr/lib/postgresql/$(pg_version)/bin
    as_postgres "$bin/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_LOG" -w -t 30 \
        -o "-p $REPLICA_PORT -k /tmp -c hot_standby=on -c listen_addresses=127.0.0.1" start >/dev/null
}

replica_build() {
    say replica "building a fresh standby in $REPLICA_DIR (pg_basebackup -R)"
    local bin=/usr/lib/postgresql/$(pg_version)/bin
    as_root rm -rf "$REPLICA_DIR"
    as_root install -d -o postgres -g postgres -m 700 "$REPLICA_DIR"
    as_postgres "$bin/pg_basebackup" -D "$REPLICA_DIR" -R -X stream -c fast
    # Debian keeps the configuration files outside the data folder: give the copy its own.
    as_postgres sh -c "cd '$REPLICA_DIR' && : > postgresql.conf && : > pg_ident.conf && cat > pg_hba.conf" <<'HBA'
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
HBA
    replica_start
}

replica_up() {
    if port_open "$REPLICA_PORT" && replica_is_standby; then
        say replica "standby already running on $REPLICA_PORT"
        return
    fi
    if [ -f "$REPLICA_DIR/standby.signal" ] && ! port_open "$REPLICA_PORT"; then
        say replica "starting the existing standby on $REPLICA_PORT"
        replica_start || true
        # A standby whose primary moved on without it (e.g. the primary was re-created) never
        # catches up: rebuild it rather than test against a stale copy.
        if wait_for 15 replica_is_standby; then return; fi
        say replica "existing standby is unusable"
        as_postgres "/usr/lib/postgresql/$(pg_version)/bin/pg_ctl" -D "$REPLICA_DIR" -m fast stop \
            >/dev/null 2>&1 || true
    fi
    port_open "$REPLICA_PORT" && die "port $REPLICA_PORT is taken by something that is not our standby"
    replica_build
    wait_for 30 replica_is_standby || die "the standby did not come up (see $REPLICA_LOG)"
}

# --- Redis -------------------------------------------------------------------------------------
redis_up() {
    ensure_package redis-server redis-server
    if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
        say redis "already running"
        return
    fi
    say redis "starting"
    as_root install -d -m 755 /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/midaz-tests.log
    wait_for 15 sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG' || die "redis did not start"
}

# --- RabbitMQ ----------------------------------------------------------------------------------
rabbitmq_up() {
    ensure_package rabbitmq-server rabbitmq-server
    if port_open 5672; then
        say rabbitmq "already running"
        return
    fi
    say rabbitmq "starting (the first start takes several seconds)"
    as_root rabbitmq-server -detached
    as_root timeout 120 rabbitmqctl await_startup >/dev/null 2>&1 || true
    wait_for 60 port_open 5672 || die "rabbitmq did not start"
}

status() {
    pg_isready -h 127.0.0.1 -p 5432 || true
    if replica_is_standby; then echo "replica 127.0.0.1:$REPLICA_PORT - standby"; else echo "replica down"; fi
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || echo "redis down"
    if port_open 5672; then echo "rabbitmq 127.0.0.1:5672 - open"; else echo "rabbitmq down"; fi
}

case "${1:-up}" in
    up)
        ensure_package psql postgresql-client
        primary_up
        replica_up
        redis_up
        rabbitmq_up
        ;;
    status) status ;;
    *) die "usage: $0 [up|status]" ;;
esac
