"""An admin whose rows a service deletes: the service also removes what a row keeps outside
the database (stored files), which Django's own delete would leave behind."""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest


class ServiceDeleteAdmin(admin.ModelAdmin):
    """Deleting one row (its delete page) or a selection (the list's action) calls
    `delete_rows` with their ids."""

    def delete_rows(self, ids: list[int]) -> None:
        """Delete these rows through the app's service."""
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.delete_rows([obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.delete_rows(list(queryset.values_list("pk", flat=True)))
