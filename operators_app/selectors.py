"""Reads of operators the API and the admin need."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, FilteredRelation, Q, QuerySet

from operators_app.models import Operator


def get_active_operator(*, user: AbstractBaseUser) -> Operator | None:
    """The user's operator profile if the user is active and has one, else None."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.operator
    except Operator.DoesNotExist:
        return None


def list_operators() -> QuerySet[Operator]:
    """Operators with their user and `open_requests` (held requests not closed), by name."""
    # The condition sits in the join, so the (operator, status) index serves it.
    # "closed" is the status value of API.md; this app does not import requests_app.
    return (
        Operator.objects.select_related("user")
        .annotate(
            open_held=FilteredRelation("requests", condition=~Q(requests__status="closed")),
            open_requests=Count("open_held"),
        )
        .order_by("name", "id")
    )


def get_operator(*, operator_id: int) -> Operator | None:
    """One operator with `open_requests`, or None."""
    return list_operators().filter(pk=operator_id).first()


def list_active_operators() -> QuerySet[Operator]:
    """Operators whose user is active, by name: whom a request can be handed to."""
    return Operator.objects.filter(user__is_active=True).only("id", "name").order_by("name", "id")
