"""Reads of operators the API and the admin need."""

from django.contrib.auth.models import AbstractBaseUser

from .models import Operator


def get_active_operator(*, user: AbstractBaseUser) -> Operator | None:
    """The user's operator profile if the user is active and has one, else None."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.operator
    except Operator.DoesNotExist:
        return None
