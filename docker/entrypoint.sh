#!/bin/sh
# The container's entrypoint: wait for the database, migrate once, then become the role.
#
#   entrypoint.sh web      gunicorn (migrates first unless MIGRATE_ON_START=false)
#   entrypoint.sh worker   a Celery worker (waits until the schema is migrated)
#   entrypoint.sh beat     Celery beat, the one scheduler of periodic re-drives
#   entrypoint.sh migrate  apply migrations and exit (a release step)
#   entrypoint.sh manage createsuperuser ...   any management command
#   entrypoint.sh <anything else>              run it as given
#
# Migrations run under a PostgreSQL advisory lock, so N web replicas starting together
# migrate once and the others wait for it.
set -eu

cd "$(dirname "$0")/.."

# An empty variable means "not set" everywhere in the project, but not to every tool:
# gunicorn fails on an empty WEB_CONCURRENCY, prometheus_client switches to multiprocess
# mode on an empty PROMETHEUS_MULTIPROC_DIR. An env file copied from .env.sample leaves
# many empty, so drop them all before anything reads them.
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=$/\1/p'); do
  unset "$name"
done

# Every role runs the production settings unless the environment names another module
# (the image and the compose file set it too).
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-servicedesk.settings.production}"

role="${1:-web}"
if [ "$#" -gt 0 ]; then
  shift
fi

case "$role" in
  web|worker|beat|migrate)
    python docker/prestart.py "$role"
    ;;
esac

case "$role" in
  web)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # Counters of a previous run must not leak into this one.
      rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    exec gunicorn --config docker/gunicorn.conf.py servicedesk.wsgi:application "$@"
    ;;
  worker)
    exec celery --app servicedesk worker \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_WORKER_CONCURRENCY:-2}" \
      --without-gossip --without-mingle \
      "$@"
    ;;
  beat)
    # The schedule file is CELERY_BEAT_SCHEDULE_FILE (settings), var/ by default.
    exec celery --app servicedesk beat \
      --loglevel "${LOG_LEVEL:-INFO}" \
      "$@"
    ;;
  migrate)
    exit 0
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
