#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running on this machine, starting (and,
# on a fresh Debian machine, installing) whatever is missing. Idempotent: run it any time.
#
#   scripts/services.sh [up]          start/install what is missing (the default)
#   scripts/services.sh status        one line per service; exit 1 when one is down
#   scripts/services.sh down-replica  stop the streaming replica (the next `up` restarts it)
#
# PostgreSQL primary  127.0.0.1:5432  postgres://midaz:midaz@127.0.0.1:5432/midaz (SUPERUSER)
# PostgreSQL replica  127.0.0.1:5433  postgres://midaz:midaz@127.0.0.1:5433/midaz (streaming
#                                      standby made with pg_basebackup -R, read-only)
# Redis / Valkey      127.0.0.1:6379  redis://127.0.0.1:6379/0
# RabbitMQ            127.0.0.1:5672  amqp://guest:guest@127.0.0.1:5672//
set -euo pipefail

PRIMARY_PORT=5432
REPLICA_PORT=5433
REPLICA_DIR=${MIDAZ_REPLICA_DIR:-/var/lib/postgresql/midaz-replica-5433}
REPLICA_LOG=${REPLICA_DIR}.log
REPLICA_SOCKET_DIR=/tmp
DB_ROLE=midaz
DB_PASSWORD=midaz
DB_NAME=midaz
REDIS_PORT=6379
RABBIT_PORT=5672

say() { printf '%-9s %s\n' "$1" "$2"; }
die() { printf 'services.sh: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# cd / first: psql as postgres complains when it cannot read the caller's directory.
as_postgres() { (cd / && as_root runuser -u postgres -- "$@"); }

wait_for() { # wait_for <seconds> <command...>: retry every 0.2 s until it succeeds or time is up
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_version() { # newest configured cluster version, else newest installed server
    local v
    v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$v" ] || v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
    printf '%s' "$v"
}
pg_bin() { printf '/usr/lib/postgresql/%s/bin' "$(pg_version)"; }

# SQL helpers. The primary is reached as the postgres OS user over its local socket (peer or
# trust on every Debian default); the replica over its own socket, where its pg_hba says trust.
primary_sql() { as_postgres psql -p "$PRIMARY_PORT" -qAtX -v ON_ERROR_STOP=1 "$@"; }
replica_sql() { as_postgres psql -h "$REPLICA_SOCKET_DIR" -p "$REPLICA_PORT" -qAtX -v ON_ERROR_STOP=1 "$@"; }
# What the application does: TCP + password, exactly the URLs of the Makefile.
app_can_connect() { # app_can_connect <port>
    psql "postgres://$DB_ROLE:$DB_PASSWORD@127.0.0.1:$1/$DB_NAME?connect_timeout=5" -qAtX -c 'SELECT 1' 2>/dev/null | grep -qx 1
}

# --- Debian packages ---------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

ensure_packages() {
    local missing=() p
    # chromium (+ its driver): the console's browser tests (tests/console/test_browser.py) drive
    # Debian's build through Playwright, so no browser is downloaded.
    for p in postgresql redis-server rabbitmq-server chromium chromium-driver; do  # + psql, redis-cli
        pkg_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then return; fi
    say packages "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- PostgreSQL primary ------------------------------------------------------------------------
primary_up() {
    local version notes=() rc=0
    version=$(pg_version)
    [ -n "$version" ] || die "PostgreSQL is not installed (no /usr/lib/postgresql/<version>)"
    # A package installed with its cluster dropped (or never created): make the default one.
    if [ ! -d "/etc/postgresql/$version/main" ]; then
        as_root pg_createcluster "$version" main -p "$PRIMARY_PORT" >/dev/null
        notes+=("created cluster $version/main")
    fi

    pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" || rc=$?
    if [ "$rc" -eq 0 ]; then
        notes+=("primary already running on $PRIMARY_PORT (PostgreSQL $version)")
    else
        if [ "$rc" -ne 1 ]; then # 1 = starting up: only wait
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 9>&- ||
                die "could not start PostgreSQL $version/main (see /var/log/postgresql/postgresql-$version-main.log)"
        fi
        wait_for 60 pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" ||
            die "PostgreSQL $version/main does not answer on 127.0.0.1:$PRIMARY_PORT (is it listening on another port?)"
        notes+=("started primary on $PRIMARY_PORT (PostgreSQL $version)")
    fi

    # The role the app and the tests use. SUPERUSER: the tests create databases and extensions.
    # The password is (re)set as SCRAM so it works under trust, md5 and scram-sha-256 alike.
    primary_sql <<SQL
SET password_encryption = 'scram-sha-256';
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE') THEN
    CREATE ROLE $DB_ROLE;
  END IF;
END \$\$;
ALTER ROLE $DB_ROLE WITH LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
SQL
    if [ "$(primary_sql -c "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")" = 0 ]; then
        as_postgres createdb -p "$PRIMARY_PORT" -O "$DB_ROLE" "$DB_NAME"
        notes+=("created database $DB_NAME")
    else
        primary_sql -c "ALTER DATABASE $DB_NAME OWNER TO $DB_ROLE"
        notes+=("role+db $DB_NAME ok")
    fi

    # Streaming replication needs wal_level >= replica and WAL senders (Debian defaults). Only a
    # hand-tuned primary lacks them; the fix needs a restart, done only in that case.
    if [ "$(primary_sql -c "SELECT current_setting('wal_level') <> 'minimal' AND current_setting('max_wal_senders')::int > 0")" != t ]; then
        primary_sql -c "ALTER SYSTEM SET wal_level = 'replica'" -c "ALTER SYSTEM SET max_wal_senders = 10"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart 9>&-
        wait_for 60 pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" || die "primary did not come back after enabling replication"
        notes+=("enabled wal_level=replica (restarted)")
    fi
    # Autovacuum keeps planner statistics current. Without it a long-lived connection keeps
    # the plans it made while the tables were empty (sequential scans) and every posting gets
    # slower as the ledger grows: the benchmark measured exactly that on a server where it was
    # off. Turning it on needs only a reload.
    if [ "$(primary_sql -c "SHOW autovacuum")" != on ]; then
        primary_sql -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
        notes+=("turned autovacuum on")
    fi
    # pg_basebackup and the standby connect as postgres over the local socket. Some pg_hba.conf
    # files have no such rule: put one first (narrow: the postgres OS user only, peer).
    if [ "$(primary_sql -c "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NULL AND type = 'local'
            AND 'replication' = ANY(database) AND (user_name && ARRAY['all','postgres'])
            AND auth_method IN ('peer', 'trust')")" = 0 ]; then
        local hba; hba=$(primary_sql -c 'SHOW hba_file')
        as_root sed -i '1i local replication postgres peer  # added by midaz scripts/services.sh' "$hba"
        primary_sql -c 'SELECT pg_reload_conf()' >/dev/null
        notes+=("allowed local replication in $hba")
    fi

    app_can_connect "$PRIMARY_PORT" ||
        die "postgres://$DB_ROLE:***@127.0.0.1:$PRIMARY_PORT/$DB_NAME refuses the connection (check pg_hba.conf for 127.0.0.1)"
    local line; printf -v line '%s; ' "${notes[@]}"
    say postgres "${line%; }"
}

# --- PostgreSQL streaming replica --------------------------------------------------------------
# A standby refuses to start when these are lower than on its primary; copy them over.
write_replica_conf() {
    primary_sql -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN
        ('max_connections', 'max_worker_processes', 'max_wal_senders',
         'max_prepared_transactions', 'max_locks_per_transaction') ORDER BY name" |
        as_postgres tee "$REPLICA_DIR/postgresql.conf" >/dev/null
}

replica_running() { as_postgres "$(pg_bin)/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; }

replica_start() {
    write_replica_conf
    as_postgres "$(pg_bin)/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_LOG" -w -t 60 \
        -o "-p $REPLICA_PORT -k $REPLICA_SOCKET_DIR -c hot_standby=on -c listen_addresses=127.0.0.1 -c cluster_name=midaz-replica" \
        start >/dev/null 9>&-
}

replica_stop() {
    if [ -f "$REPLICA_DIR/postmaster.pid" ]; then
        as_postgres "$(pg_bin)/pg_ctl" -D "$REPLICA_DIR" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_postgres "$(pg_bin)/pg_ctl" -D "$REPLICA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

primary_sysid() { primary_sql -c 'SELECT system_identifier FROM pg_control_system()'; }

# Is the server on 5433 ours (our data folder)? And still a standby (not promoted)?
replica_is_ours() {
    [ "$(replica_sql -c 'SHOW data_directory' 2>/dev/null)" = "$REPLICA_DIR" ]
}
replica_in_recovery() { [ "$(replica_sql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]; }
# Does it stream from the current primary? (A re-created primary has a new system identifier; a
# standby left behind by WAL recycling or a diverged timeline never reaches 'streaming'.)
replica_streams() {
    [ "$(replica_sql -c 'SELECT system_identifier FROM pg_control_system()' 2>/dev/null)" = "$(primary_sysid)" ] &&
        [ "$(replica_sql -c 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null)" = streaming ]
}
# A copy on disk whose control file names another cluster is useless: rebuild without starting.
replica_dir_matches_primary() {
    [ -f "$REPLICA_DIR/standby.signal" ] && [ -f "$REPLICA_DIR/PG_VERSION" ] &&
        [ "$(cat "$REPLICA_DIR/PG_VERSION")" = "$(pg_version)" ] &&
        [ "$(as_postgres "$(pg_bin)/pg_controldata" -D "$REPLICA_DIR" 2>/dev/null |
            sed -n 's/^Database system identifier: *//p')" = "$(primary_sysid)" ]
}

replica_build() {
    replica_stop
    as_root rm -rf "$REPLICA_DIR"
    as_root install -d -o postgres -g postgres -m 700 "$REPLICA_DIR"
    # -R writes standby.signal and primary_conninfo (local socket, user postgres).
    as_postgres "$(pg_bin)/pg_basebackup" -p "$PRIMARY_PORT" -D "$REPLICA_DIR" -R -X stream -c fast ||
        die "pg_basebackup from the primary failed"
    # Debian keeps the configuration files outside the data folder, so the copy has none.
    as_postgres sh -c ": > '$REPLICA_DIR/pg_ident.conf' && cat > '$REPLICA_DIR/pg_hba.conf'" <<'HBA'
# Private test standby (scripts/services.sh): loopback only, the role passwords replicate.
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
HBA
    replica_start || die "the new standby did not start (see $REPLICA_LOG)"
}

# Writes a marker on the primary and waits until the replica shows it: proves the whole chain.
replica_check_replication() {
    local marker
    marker="services.sh $(date +%s.%N)"
    primary_sql -c "COMMENT ON DATABASE $DB_NAME IS '$marker'"
    wait_for 30 replica_has_marker "$marker"
}
replica_has_marker() { # connects to the midaz database itself, so it must have replicated too
    [ "$(replica_sql -d "$DB_NAME" -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB_NAME'")" = "$1" ]
}

replica_up() {
    local did=""
    if port_open "$REPLICA_PORT"; then
        replica_is_ours ||
            die "port $REPLICA_PORT is taken by a server that is not the standby in $REPLICA_DIR; stop it first"
        if replica_in_recovery && wait_for 10 replica_streams; then
            did="standby already streaming on $REPLICA_PORT"
        else
            did="stale standby rebuilt from the primary"
            replica_build
        fi
    elif replica_dir_matches_primary; then
        # Stopped (or crashed) standby of this primary: start it, and rebuild if it cannot stream.
        replica_stop
        if replica_start && wait_for 20 replica_streams; then
            did="started the existing standby on $REPLICA_PORT"
        else
            did="existing standby unusable, rebuilt from the primary"
            replica_build
        fi
    else
        if [ -e "$REPLICA_DIR" ]; then did="data folder of another primary, rebuilt"; else did="built"; fi
        did="$did (pg_basebackup -R into $REPLICA_DIR)"
        replica_build
    fi
    wait_for 30 replica_streams || die "the standby on $REPLICA_PORT does not stream from the primary (see $REPLICA_LOG)"
    replica_check_replication || die "a write on the primary did not reach the standby within 30 s (see $REPLICA_LOG)"
    app_can_connect "$REPLICA_PORT" || die "postgres://$DB_ROLE:***@127.0.0.1:$REPLICA_PORT/$DB_NAME refuses the connection"
    say replica "$did; replication verified"
}

replica_down() {
    if replica_running; then
        replica_stop
        say replica "stopped the standby on $REPLICA_PORT"
    else
        say replica "not running"
    fi
}

# --- Redis -------------------------------------------------------------------------------------
redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_up() {
    if redis_ping; then
        say redis "already running on $REDIS_PORT"
        return
    fi
    port_open "$REDIS_PORT" && die "port $REDIS_PORT is open but does not answer PING (password set?)"
    # No persistence: the tests only need a cache.
    as_root install -d -m 755 /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/midaz-services.log 9>&- ||
        die "redis-server failed to start (see /var/log/redis/midaz-services.log)"
    wait_for 15 redis_ping || die "redis did not answer PING (see /var/log/redis/midaz-services.log)"
    say redis "started on $REDIS_PORT"
}

# --- RabbitMQ ----------------------------------------------------------------------------------
rabbitmq_up() {
    if port_open "$RABBIT_PORT"; then
        say rabbitmq "already running on $RABBIT_PORT"
        return
    fi
    local did
    # A node whose app was stopped (rabbitmqctl stop_app) refuses a second -detached start.
    if as_root timeout 30 rabbitmqctl -q ping >/dev/null 2>&1; then
        as_root timeout 120 rabbitmqctl -q start_app >/dev/null 9>&- || die "rabbitmqctl start_app failed (see /var/log/rabbitmq/)"
        did="started the app of the running node"
    else
        as_root rabbitmq-server -detached 9>&- || die "rabbitmq-server -detached failed (see /var/log/rabbitmq/)"
        did="started"
    fi
    # The first start takes several seconds. await_startup fails at once while the new node is not
    # registered yet, so it is retried until the deadline.
    wait_for 120 as_root timeout 60 rabbitmqctl -q await_startup ||
        die "RabbitMQ did not finish starting within 120 s (see /var/log/rabbitmq/)"
    wait_for 30 port_open "$RABBIT_PORT" || die "RabbitMQ started but does not listen on $RABBIT_PORT"
    say rabbitmq "$did on $RABBIT_PORT"
}

# --- status ------------------------------------------------------------------------------------
status() {
    local down=0
    if pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" && app_can_connect "$PRIMARY_PORT"; then
        say postgres "up on $PRIMARY_PORT, $DB_ROLE can connect"
    else say postgres "DOWN (or $DB_ROLE cannot connect) on $PRIMARY_PORT"; down=1; fi
    if port_open "$REPLICA_PORT" && replica_is_ours && replica_in_recovery && replica_streams; then
        say replica "up on $REPLICA_PORT, streaming from the primary"
    else say replica "DOWN or not streaming on $REPLICA_PORT"; down=1; fi
    if redis_ping; then say redis "up on $REDIS_PORT"; else say redis "DOWN on $REDIS_PORT"; down=1; fi
    if port_open "$RABBIT_PORT"; then say rabbitmq "up on $RABBIT_PORT"; else say rabbitmq "DOWN on $RABBIT_PORT"; down=1; fi
    return "$down"
}

# One run at a time: two concurrent `up`s could both start a base backup into the same folder.
# The daemons started above get `9>&-` so that they do not inherit (and keep) the lock.
lock() {
    exec 9>"${TMPDIR:-/tmp}/midaz-services-run.lock"
    flock -w 600 9 || die "another scripts/services.sh is still running"
}

case "${1:-up}" in
    up)
        lock
        ensure_packages
        primary_up
        replica_up
        redis_up
        rabbitmq_up
        ;;
    status) status ;;
    down-replica)
        lock
        replica_down
        ;;
    *) die "usage: $0 [up|status|down-replica]" ;;
esac
