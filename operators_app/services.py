"""Every write to operators: creating the user and its operator profile together."""

from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from operators_app.errors import InvalidCredentialsError
from operators_app.models import Operator
from requests_app.models import SupportRequest


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


def rename_operator(*, operator: Operator, name: str) -> Operator:
    """Give `operator` a new name, and the requests they hold the copy their list ordering uses."""
    with transaction.atomic():
        operator.name = name
        operator.save(update_fields=["name"])
        SupportRequest.objects.filter(operator=operator).update(operator_name=name)
    return operator


def operator_name_for(user) -> str:
    """The name a new profile gets: the user's full name, else the username."""
    return (user.get_full_name().strip() or user.get_username())[:150]


def attach_operator(*, user, name: str = "") -> Operator:
    """Give an existing user an operator profile (or answer the one they have)."""
    operator, _ = Operator.objects.get_or_create(
        user=user, defaults={"name": name.strip() or operator_name_for(user)}
    )
    return operator


def ensure_staff_operator(*, user) -> Operator | None:
    """The user's operator profile; an active staff user without one gets it now, because
    staff are always operators (API.md, Authentication). None for anyone else without one."""
    try:
        return user.operator
    except Operator.DoesNotExist:
        pass
    if not (user.is_active and user.is_staff):
        return None
    operator = attach_operator(user=user)
    # The caller's user object answers the new profile from now on, without a query.
    Operator._meta.get_field("user").remote_field.set_cached_value(user, operator)
    return operator


def obtain_token(*, username: str, password: str, request=None) -> str:
    """The API token of the user with these credentials, created on first use."""
    # Django's own request (not DRF's wrapper): django-axes marks a locked-out attempt on it.
    http_request = getattr(request, "_request", request)
    user = authenticate(request=http_request, username=username, password=password)
    if user is None:
        raise InvalidCredentialsError()
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
