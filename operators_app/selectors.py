"""Reads of operators the API and the admin need.

How many requests each operator holds is read in `requests_app.selectors`
(`list_operators`, `get_operator`): these models sit below the requests', so nothing
here sees them."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from operators_app.models import Operator


def get_active_operator(*, user: User | AnonymousUser | None) -> Operator | None:
    """The user's operator profile if the user is active and has one, else None."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.operator
    except Operator.DoesNotExist:
        return None


def list_active_operators() -> QuerySet[Operator]:
    """Operators whose user is active, by name: whom a request can be handed to."""
    return Operator.objects.filter(user__is_active=True).only("id", "name").order_by("name", "id")
