"""Cheaper search conditions, and the search's indexes over open requests (PostgreSQL only).

`search_text`: the lower-cased subject, a space, and the address (already lower case), a
column PostgreSQL generates on every write. The search tests a word against it with a
plain `LIKE`, where it tested `upper(subject) LIKE … OR upper(requester_email) LIKE …`:
a search with many matches walks the ordering's index and tests every row it passes,
and the two `upper()` calls were most of that test (page 100 of a common word: 58 ms of
SQL, 30 ms with this column). One trigram index on it replaces the two on the
expressions (`request_subject_trgm`, `request_requester_trgm`).

The open requests' indexes: operators mostly search their queue, with a status filter
that leaves closed requests out. Over every request a common word's bitmaps are large
(`laptop`: 166,370 requests by their mail of a million) although only a tenth of them
are open, and building them was most of such a page's time (54 ms, 29 ms with these).
PostgreSQL proves that `status = 'new'` or `IN ('new', 'in_progress')` implies their
condition by itself: no query names them.

Adding the column rewrites the table under an exclusive lock (33 s for a million
requests on 2 cores), then builds the three indexes (18 s).
"""

from django.db import migrations

from servicedesk.migration_operations import run_on_postgresql

TABLE = "requests_app_supportrequest"
OPEN = "status <> 'closed'"

SEARCH_TEXT_SQL = [
    f"ALTER TABLE {TABLE} ADD COLUMN search_text text "
    "GENERATED ALWAYS AS (lower(subject::text) || ' ' || requester_email::text) STORED",
    f"CREATE INDEX request_search_text_trgm ON {TABLE} USING gin (search_text gin_trgm_ops)",
    f"CREATE INDEX request_open_search_text_trgm ON {TABLE} "
    f"USING gin (search_text gin_trgm_ops) WHERE {OPEN}",
    f"CREATE INDEX request_open_mail_words ON {TABLE} USING gin (mail_words) WHERE {OPEN}",
    "DROP INDEX IF EXISTS request_subject_trgm",
    "DROP INDEX IF EXISTS request_requester_trgm",
    f"ANALYZE {TABLE}",
]

REVERSE_SEARCH_TEXT_SQL = [
    f"CREATE INDEX IF NOT EXISTS request_subject_trgm ON {TABLE} "
    "USING gin ((upper(subject::text)) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS request_requester_trgm ON {TABLE} "
    "USING gin ((upper(requester_email::text)) gin_trgm_ops)",
    "DROP INDEX IF EXISTS request_open_mail_words",
    "DROP INDEX IF EXISTS request_open_search_text_trgm",
    "DROP INDEX IF EXISTS request_search_text_trgm",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_text",
]


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0006_mail_words_per_request")]

    operations = [
        migrations.RunPython(
            run_on_postgresql(SEARCH_TEXT_SQL),
            run_on_postgresql(REVERSE_SEARCH_TEXT_SQL),
            elidable=False,
        ),
    ]
