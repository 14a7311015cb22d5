"""DRF test clients that authenticate as the API's clients do, with a token."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient


def token_client(user: Any) -> APIClient:
    """An APIClient sending `Authorization: Token <key>` for `user` (the token made once)."""
    from rest_framework.authtoken.models import Token

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
