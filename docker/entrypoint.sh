#!/bin/sh
# Entry point of the ledger's image: one image, one process per container.
#
#   api            gunicorn serving the API with /app/gunicorn.conf.py (the default command)
#   worker         the Celery worker of asynchronous postings (queue midaz.postings)
#   worker-alive   liveness of the worker in this container: its heartbeat file is recent
#   beat           the Celery beat scheduler (sweep, events relay); run exactly one
#   migrate        apply the database migrations (the chart's migrations Job)
#   manage ARGS    any manage.py command, e.g. `manage create_api_key ops --all-organizations`
#   wait-for-db    wait until the database answers (--migrations: and is fully migrated)
#
# Migrations never run implicitly: only `migrate` (or `manage migrate`) applies them.
set -eu

APP_DIR="${APP_DIR:-/app}"
cd "$APP_DIR"

# /version reports the values baked at build time unless the environment sets its own
# (an empty value, as a ConfigMap may carry, counts as unset).
if [ -z "${VERSION:-}" ] && [ -n "${IMAGE_VERSION:-}" ]; then export VERSION="$IMAGE_VERSION"; fi
if [ -z "${BUILD_COMMIT:-}" ] && [ -n "${IMAGE_BUILD_COMMIT:-}" ]; then
    export BUILD_COMMIT="$IMAGE_BUILD_COMMIT"
fi
if [ -z "${BUILD_TIME:-}" ] && [ -n "${IMAGE_BUILD_TIME:-}" ]; then
    export BUILD_TIME="$IMAGE_BUILD_TIME"
fi

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

HEARTBEAT_DEFAULT=/tmp/midaz-worker-heartbeat

command="${1:-api}"
if [ "$#" -gt 0 ]; then shift; fi

case "$command" in
    api)
        exec gunicorn --config "$APP_DIR/gunicorn.conf.py" "$@" midaz.wsgi:application
        ;;
    worker)
        # The worker touches this file while it lives (midaz/celery.py); worker-alive reads it.
        export WORKER_HEARTBEAT_FILE="${WORKER_HEARTBEAT_FILE:-$HEARTBEAT_DEFAULT}"
        exec celery -A midaz worker \
            -Q "${CELERY_WORKER_QUEUES:-midaz.postings}" \
            --concurrency "${CELERY_WORKER_CONCURRENCY:-2}" \
            --loglevel "${LOG_LEVEL:-INFO}" "$@"
        ;;
    worker-alive)
        # No broker, no Django: only the age of the heartbeat file, so a broker outage never
        # restarts a worker that is waiting for the broker to come back.
        file="${WORKER_HEARTBEAT_FILE:-$HEARTBEAT_DEFAULT}"
        max_age="${WORKER_HEARTBEAT_MAX_AGE_SECONDS:-60}"
        if [ ! -f "$file" ]; then
            echo "no heartbeat yet: $file" >&2
            exit 1
        fi
        age=$(($(date +%s) - $(stat -c %Y "$file")))
        if [ "$age" -gt "$max_age" ]; then
            echo "heartbeat ${age}s old (limit ${max_age}s): $file" >&2
            exit 1
        fi
        echo "alive: heartbeat ${age}s ago"
        ;;
    beat)
        # The schedule file is beat's only state; it lives in /tmp (an emptyDir).
        exec celery -A midaz beat \
            --schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" \
            --loglevel "${LOG_LEVEL:-INFO}" "$@"
        ;;
    migrate)
        exec python manage.py migrate --noinput "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    wait-for-db)
        exec python "$APP_DIR/docker/wait_for_db.py" "$@"
        ;;
    help | -h | --help)
        usage
        ;;
    *)
        echo "unknown command: $command" >&2
        usage >&2
        exit 64
        ;;
esac
