"""DRF's token authentication, hardened against keys that cannot be keys.

Kept apart from the rest of the API helpers: DRF imports authentication classes while
`rest_framework.views` is still loading, so this module imports nothing that needs it.
"""

from rest_framework import authentication, exceptions

# Token keys DRF generates are 40 hex digits; anything else cannot be a key and must not
# reach the database (PostgreSQL refuses NUL characters with an error, not a miss).
_TOKEN_KEY_MAX_LENGTH = 40


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, loading the user's operator profile in the same query."""

    def authenticate_credentials(self, key):
        from rest_framework.authtoken.models import Token

        if len(key) > _TOKEN_KEY_MAX_LENGTH or not (key.isascii() and key.isalnum()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        try:
            token = Token.objects.select_related("user", "user__operator").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
