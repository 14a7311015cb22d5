"""Databases for tests: a fresh one per system test, and what migrations add on PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

# What migrations create on PostgreSQL only, outside the models (full-text and trigram
# indexes, the per-request mail words and their triggers), in the order the migrations
# apply it; the test database is built from the models (--no-migrations).
POSTGRES_ONLY_SQL = [
    ("requests_app.migrations.0003_workflow_events_first_response_list_indexes", "TRIGRAM_SQL"),
    ("messages_app.migrations.0004_notes_canned_replies_search", "SEARCH_SQL"),
    ("requests_app.migrations.0006_mail_words_per_request", "MAIL_WORDS_SQL"),
    ("requests_app.migrations.0007_search_text_open_search_indexes", "SEARCH_TEXT_SQL"),
    ("requests_app.migrations.0008_search_query_never_fails", "SEARCH_QUERY_SQL"),
]


def add_postgres_only_sql(connection: Any) -> None:
    """Run the migrations' PostgreSQL-only statements on a database built from the models."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for module, name in POSTGRES_ONLY_SQL:
            for statement in getattr(import_module(module), name):
                cursor.execute(statement)


@contextlib.contextmanager
def fresh_database(database_url: str | None, *, tmp_dir: Path) -> Iterator[str]:
    """A new empty database for the service: a PostgreSQL database beside `database_url`'s
    (dropped afterwards) when it is a postgres URL, otherwise a SQLite file in `tmp_dir`."""
    if not database_url or not database_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_dir / 'e2e.sqlite3'}"
        return
    import psycopg2
    from psycopg2 import sql

    base, _, _ = database_url.rpartition("/")
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    admin_url = f"{base}/postgres"

    def run(statement: sql.Composable) -> None:
        connection = psycopg2.connect(admin_url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{base}/{name}"
    finally:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
