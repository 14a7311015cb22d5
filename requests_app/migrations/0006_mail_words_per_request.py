"""The words of each request's mail in one `tsvector` on the request (PostgreSQL only).

`mail_words` holds the words of every message of the request (the messages'
`search_vector`, so automatic notices are left out and notes are in, as search found
them before), with a GIN index. The list's `search` tests it on the request's own row,
so it combines with the other filters and orderings like any other condition, instead
of collecting the requests of every matching message first.

The database keeps it up to date, so no code that writes messages has to know about it:
a statement-level trigger with a transition table on `messages_app_message` adds the
words of the inserted messages (one UPDATE per request, in id order, whatever the size
of the batch); a row trigger rebuilds a request's words when a message's text or request
changes (rare: re-parsing); a statement trigger rebuilds them after messages are deleted.

A `tsvector` holds at most 1 MB: a request whose mail holds more keeps the words it had
when its vector reached about that size (`request_mail_words_concat` stops adding).
Positions of later messages follow those of earlier ones and, as in a single long
message, stop at 16,383, so a quoted phrase deep in a very long conversation may be
missed; single words never are.

The messages' own GIN index `message_search` is no longer read by any query and is
dropped; their generated `search_vector` column stays, as the source of these words.

Backfill: one UPDATE of every request that has mail (about 3 minutes for a million
requests on 2 cores, the table locked meanwhile), then the index.
"""

from django.db import migrations

from servicedesk.migration_operations import run_on_postgresql

MAIL_WORDS_SQL = [
    "ALTER TABLE requests_app_supportrequest ADD COLUMN mail_words tsvector",
    # `a || b` unless the result could pass the 1 MB a tsvector may hold (then `a`).
    """
    CREATE FUNCTION request_mail_words_concat(words tsvector, more tsvector)
    RETURNS tsvector LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    BEGIN
        IF pg_column_size(words) + pg_column_size(more) > 1000000 THEN
            RETURN words;
        END IF;
        RETURN words || more;
    END
    $$
    """,
    """
    CREATE AGGREGATE request_mail_words_agg(tsvector) (
        SFUNC = request_mail_words_concat, STYPE = tsvector
    )
    """,
    # Inserted messages: each request gets the words of its new messages appended.
    """
    CREATE FUNCTION request_mail_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        added record;
    BEGIN
        FOR added IN
            SELECT request_id, request_mail_words_agg(search_vector ORDER BY id) AS words
            FROM new_messages
            WHERE search_vector IS NOT NULL
            GROUP BY request_id
            ORDER BY request_id
        LOOP
            UPDATE requests_app_supportrequest
            SET mail_words = CASE
                WHEN mail_words IS NULL THEN added.words
                ELSE request_mail_words_concat(mail_words, added.words)
            END
            WHERE id = added.request_id;
        END LOOP;
        RETURN NULL;
    END
    $$
    """,
    # The words of requests whose messages changed or went, read again from the messages.
    """
    CREATE FUNCTION request_mail_words_rebuild(request_ids bigint[]) RETURNS void
    LANGUAGE sql AS $$
        UPDATE requests_app_supportrequest AS r
        SET mail_words = (
            SELECT request_mail_words_agg(m.search_vector ORDER BY m.id)
            FROM messages_app_message AS m
            WHERE m.request_id = r.id
        )
        WHERE r.id IN (
            SELECT DISTINCT u.id FROM unnest(request_ids) AS u(id)
            WHERE u.id IS NOT NULL ORDER BY u.id
        )
    $$
    """,
    """
    CREATE FUNCTION request_mail_words_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM request_mail_words_rebuild(ARRAY[OLD.request_id, NEW.request_id]);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION request_mail_words_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM request_mail_words_rebuild(ARRAY(
            SELECT DISTINCT request_id FROM old_messages WHERE search_vector IS NOT NULL
        ));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER message_mail_words_insert AFTER INSERT ON messages_app_message
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION request_mail_words_add()
    """,
    """
    CREATE TRIGGER message_mail_words_update
    AFTER UPDATE OF body, kind, request_id ON messages_app_message
    FOR EACH ROW
    WHEN (
        OLD.search_vector IS DISTINCT FROM NEW.search_vector
        OR OLD.request_id IS DISTINCT FROM NEW.request_id
    )
    EXECUTE FUNCTION request_mail_words_changed()
    """,
    """
    CREATE TRIGGER message_mail_words_delete AFTER DELETE ON messages_app_message
    REFERENCING OLD TABLE AS old_messages
    FOR EACH STATEMENT EXECUTE FUNCTION request_mail_words_removed()
    """,
    # Backfill, then the index (faster built once than kept up during the UPDATE).
    """
    UPDATE requests_app_supportrequest AS r
    SET mail_words = m.words
    FROM (
        SELECT request_id, request_mail_words_agg(search_vector ORDER BY id) AS words
        FROM messages_app_message
        WHERE search_vector IS NOT NULL
        GROUP BY request_id
    ) AS m
    WHERE r.id = m.request_id
    """,
    "CREATE INDEX request_mail_words ON requests_app_supportrequest USING gin (mail_words)",
    "DROP INDEX IF EXISTS message_search",
    "ANALYZE requests_app_supportrequest",
]

REVERSE_MAIL_WORDS_SQL = [
    "CREATE INDEX IF NOT EXISTS message_search ON messages_app_message USING gin (search_vector)",
    "DROP TRIGGER IF EXISTS message_mail_words_insert ON messages_app_message",
    "DROP TRIGGER IF EXISTS message_mail_words_update ON messages_app_message",
    "DROP TRIGGER IF EXISTS message_mail_words_delete ON messages_app_message",
    "DROP FUNCTION IF EXISTS request_mail_words_removed()",
    "DROP FUNCTION IF EXISTS request_mail_words_changed()",
    "DROP FUNCTION IF EXISTS request_mail_words_rebuild(bigint[])",
    "DROP FUNCTION IF EXISTS request_mail_words_add()",
    "DROP AGGREGATE IF EXISTS request_mail_words_agg(tsvector)",
    "DROP FUNCTION IF EXISTS request_mail_words_concat(tsvector, tsvector)",
    "DROP INDEX IF EXISTS request_mail_words",
    "ALTER TABLE requests_app_supportrequest DROP COLUMN IF EXISTS mail_words",
]


class Migration(migrations.Migration):
    dependencies = [
        ("messages_app", "0004_notes_canned_replies_search"),
        ("requests_app", "0005_operator_sort_key"),
    ]

    operations = [
        migrations.RunPython(
            run_on_postgresql(MAIL_WORDS_SQL),
            run_on_postgresql(REVERSE_MAIL_WORDS_SQL),
            elidable=False,
        ),
    ]
