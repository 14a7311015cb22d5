"""Run by the entrypoint before a role starts: wait for the database, migrate once.

    python docker/prestart.py web|worker|beat|migrate

`web` (unless MIGRATE_ON_START=false) and `migrate` apply migrations under a PostgreSQL
advisory lock: replicas that start together queue on the lock and find nothing left to
do. `worker` and `beat` wait until the schema is migrated, so no task runs against
missing tables. DB_WAIT_TIMEOUT (seconds, default 60) bounds each wait.
"""

import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production")

import django

logger = logging.getLogger("servicedesk.prestart")

# Any constant, the same in every replica: the key of the migration lock.
MIGRATION_LOCK_KEY = 7_452_046_535


def _env(name: str, default: str) -> str:
    """The variable, or `default` when it is unset or empty (as in a copied .env.sample)."""
    return os.environ.get(name, "").strip() or default


def _deadline() -> float:
    return time.monotonic() + float(_env("DB_WAIT_TIMEOUT", "60"))


def wait_for_database() -> None:
    """Block until the default database accepts a connection, or exit non-zero."""
    from django.db import OperationalError, connection

    deadline = _deadline()
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if time.monotonic() > deadline:
                sys.exit(f"prestart: the database is not reachable: {exc}".strip())
            logger.info("Waiting for the database: %s", str(exc).strip().splitlines()[0])
            connection.close()
            time.sleep(1)


def unapplied_migrations() -> list[str]:
    """Names of the migrations the database lacks."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def migrate_once() -> None:
    """Apply migrations; on PostgreSQL one process at a time under an advisory lock."""
    from django.core.management import call_command
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False)
        return
    # The lock lives on its own connection so that nothing migrate does to the default
    # connection can release it early.
    lock = connections.create_connection("default")
    try:
        with lock.cursor() as cursor:
            logger.info("Taking the migration lock")
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            pending = unapplied_migrations()
            if pending:
                logger.info("Applying %d migration(s)", len(pending))
                call_command("migrate", interactive=False)
            else:
                logger.info("No migrations to apply")
        finally:
            with lock.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    finally:
        lock.close()


def wait_for_migrations() -> None:
    """Block until another process (web or migrate) has migrated the schema."""
    from django.db import connection

    deadline = _deadline()
    while pending := unapplied_migrations():
        if time.monotonic() > deadline:
            sys.exit(f"prestart: migrations still not applied: {', '.join(pending[:5])}")
        logger.info("Waiting for %d migration(s) to be applied", len(pending))
        connection.close()
        time.sleep(2)


def main(role: str) -> None:
    django.setup()
    wait_for_database()
    migrate_on_start = _env("MIGRATE_ON_START", "true").lower() in ("1", "true", "yes", "on")
    if role == "migrate" or (role == "web" and migrate_on_start):
        migrate_once()
    else:
        wait_for_migrations()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "web")
