"""Every write to operators: creating the user and its operator profile together."""

from django.contrib.auth import get_user_model
from django.db import transaction

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
