"""DRF's token authentication, hardened against keys that cannot be keys, in one statement.

Kept apart from the rest of the API helpers: DRF imports authentication classes while
`rest_framework.views` is still loading, so this module imports nothing that needs it.
"""

import functools

from django.db import connections, router
from rest_framework import authentication, exceptions

# Token keys DRF generates are 40 hex digits; anything else cannot be a key and must not
# reach the database (PostgreSQL refuses NUL characters with an error, not a miss).
_TOKEN_KEY_MAX_LENGTH = 40


class _CredentialsQuery:
    """The token, its user and the user's operator profile, by key, in one SELECT.

    Every API request runs it. Built from the models' metadata once per database: the
    ORM's `select_related("user", "user__operator").get(key=...)` compiles the same
    statement anew each time, which cost more than the rest of the authentication.
    Values go through the same converters the ORM applies, so the instances are the ones
    the ORM would build, with their relations cached.
    """

    def __init__(self, alias: str):
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from operators_app.models import Operator

        connection = connections[alias]

        def quote(name: str | None) -> str:
            return connection.ops.quote_name(str(name))

        user_model = get_user_model()
        self.alias = alias
        self.token_user = Token._meta.get_field("user")
        self.user_operator = user_model._meta.get_field("operator")
        self.operator_user = Operator._meta.get_field("user")
        self.parts = []  # (model, attnames, the model's slice of the row), in row order
        self.converters = []  # (index in the row, converter, its expression)
        columns: list[str] = []
        for table_alias, model in (("t", Token), ("u", user_model), ("o", Operator)):
            fields = model._meta.concrete_fields
            for index, field in enumerate(fields, start=len(columns)):
                column = field.get_col(table_alias)
                self.converters += [
                    (index, converter, column)
                    for converter in [
                        *connection.ops.get_db_converters(column),
                        *field.get_db_converters(connection),
                    ]
                ]
            start = len(columns)
            columns += [f"{table_alias}.{quote(field.column)}" for field in fields]
            attnames = [field.attname for field in fields]
            self.parts.append((model, attnames, slice(start, len(columns))))
            if model is Operator:
                self.operator_pk_index = start + attnames.index(Operator._meta.pk.attname)
        # Identifiers from the models' metadata, quoted; the key is a parameter.
        self.sql = (
            f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t"  # noqa: S608
            f" INNER JOIN {quote(user_model._meta.db_table)} u"
            f" ON u.{quote(user_model._meta.pk.column)} = t.{quote(self.token_user.column)}"
            f" LEFT OUTER JOIN {quote(Operator._meta.db_table)} o"
            f" ON o.{quote(self.operator_user.column)} = u.{quote(user_model._meta.pk.column)}"
            f" WHERE t.{quote(Token._meta.pk.column)} = %s"
        )

    def get(self, key: str):
        """The token with `.user` and `.user.operator` (None: no profile) loaded, or None."""
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [key])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, converter, expression in self.converters:
            values[index] = converter(values[index], expression, connection)
        token, user, profile = (
            model.from_db(self.alias, attnames, values[columns])
            for model, attnames, columns in self.parts
        )
        # The LEFT JOIN found no profile: the user is not an operator.
        operator = None if values[self.operator_pk_index] is None else profile
        self.token_user.set_cached_value(token, user)
        self.user_operator.set_cached_value(user, operator)
        if operator is not None:
            self.operator_user.set_cached_value(operator, user)
        return token


@functools.cache
def _credentials_query(alias: str) -> _CredentialsQuery:
    return _CredentialsQuery(alias)


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, loading the user's operator profile in the same query."""

    def authenticate_credentials(self, key):
        from rest_framework.authtoken.models import Token

        if len(key) > _TOKEN_KEY_MAX_LENGTH or not (key.isascii() and key.isalnum()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = _credentials_query(router.db_for_read(Token)).get(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        _ensure_staff_operator(token.user)
        return token.user, token


class SessionAuthentication(authentication.SessionAuthentication):
    """The Django session (Swagger UI, the browsable API), with staff made operators."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            _ensure_staff_operator(result[0])
        return result


def _ensure_staff_operator(user) -> None:
    """Staff are always operators: one without a profile gets it on their first call."""
    if user.is_staff:
        from operators_app.services import ensure_staff_operator

        ensure_staff_operator(user=user)
