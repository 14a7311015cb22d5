"""Helpers for migrations that create what only PostgreSQL has (GIN, trigram, tsvector)."""


def run_on_postgresql(statements: list[str]):
    """A RunPython function that executes `statements` on PostgreSQL and does nothing
    elsewhere (the embedded SQLite default has no use for them)."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run
