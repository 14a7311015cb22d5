"""Every write to operators: creating the user and its operator profile together."""

from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from servicedesk.exceptions import InvalidCredentialsError

from .models import Operator


def create_operator(
    *,
    username: str,
    name: str,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
) -> Operator:
    """Create a Django user and its operator profile in one transaction."""
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model(username=username, email=email.strip().lower(), is_staff=is_staff)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return Operator.objects.create(user=user, name=name)


def obtain_token(*, username: str, password: str, request=None) -> str:
    """The API token of the user with these credentials, created on first use."""
    # Django's own request (not DRF's wrapper): django-axes marks a locked-out attempt on it.
    http_request = getattr(request, "_request", request)
    user = authenticate(request=http_request, username=username, password=password)
    if user is None:
        raise InvalidCredentialsError()
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
