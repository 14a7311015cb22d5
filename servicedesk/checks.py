"""Deployment checks of the service's own settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

WEBHOOK_SECRET_MIN_LENGTH = 32


@register(Tags.security, deploy=True)
def webhook_secret_is_strong(app_configs, **kwargs):
    """The webhook's HMAC secret must be long enough that nobody guesses it."""
    secret = settings.INBOUND_WEBHOOK_SECRET
    if len(secret) >= WEBHOOK_SECRET_MIN_LENGTH:
        return []
    return [
        Error(
            f"INBOUND_WEBHOOK_SECRET has {len(secret)} characters; production needs a random "
            f"secret of at least {WEBHOOK_SECRET_MIN_LENGTH}.",
            hint="Generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))' "
            "and give the Gmail script the same value.",
            id="servicedesk.E001",
        )
    ]
