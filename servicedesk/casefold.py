"""Case-insensitive text matching in every alphabet on SQLite, the embedded default.

SQLite's `LIKE` and `lower()` fold the case of ASCII letters only, so "принтер" did not
find "Принтер". Each SQLite connection gets `sd_casefold(text)`, Python's
`str.casefold`, and `CaseFolded` applies it to a column: a word folded the same way is
then found whatever the case of either. PostgreSQL folds every alphabet itself (`lower()`
and the `simple` text search configuration), so `CaseFolded` is plain `lower()` there.
"""

from django.db.backends.signals import connection_created
from django.db.models import Func, TextField

FUNCTION = "sd_casefold"


def _casefold(value: str | None) -> str | None:
    return None if value is None else str(value).casefold()


def register_sqlite_casefold(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: give each SQLite connection `sd_casefold`."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, _casefold, deterministic=True)


def connect() -> None:
    connection_created.connect(register_sqlite_casefold, dispatch_uid=FUNCTION)


class CaseFolded(Func):
    """The text of an expression with its case folded in every alphabet."""

    function = "LOWER"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function=FUNCTION, **extra_context)
