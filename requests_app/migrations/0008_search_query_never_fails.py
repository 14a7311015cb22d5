"""The search's text query that never fails (PostgreSQL only).

`websearch_to_tsquery` reads any user text without a syntax error, but 33 or more `-`
in a row with no word between them (`search=---…`, a signature's dashes pasted into the
box) exceed its parser's stack: "tsquery stack too small", an error that made the list
answer 500. `request_search_query(text)` is `websearch_to_tsquery('simple', text)`, and
where that fails, the plain words (`plainto_tsquery`), which no operator can upset.

It is immutable, as `websearch_to_tsquery` with a configuration is: the planner computes
it once, when it plans the query, and the GIN indexes see a constant as before.
"""

from django.db import migrations

from servicedesk.migration_operations import run_on_postgresql

SEARCH_QUERY_SQL = [
    """
    CREATE FUNCTION request_search_query(words text) RETURNS tsquery
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    BEGIN
        RETURN websearch_to_tsquery('simple'::regconfig, words);
    EXCEPTION WHEN OTHERS THEN
        RETURN plainto_tsquery('simple'::regconfig, words);
    END
    $$
    """,
]

REVERSE_SEARCH_QUERY_SQL = ["DROP FUNCTION IF EXISTS request_search_query(text)"]


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0007_search_text_open_search_indexes")]

    operations = [
        migrations.RunPython(
            run_on_postgresql(SEARCH_QUERY_SQL),
            run_on_postgresql(REVERSE_SEARCH_QUERY_SQL),
            elidable=False,
        ),
    ]
