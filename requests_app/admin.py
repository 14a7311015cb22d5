"""The request admin: the list, one request's page with its mail and history, and the
take and close actions (through the services, as the API does)."""

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.timezone import localtime

from messages_app.attachments import delete_requests
from messages_app.models import Message
from operators_app.selectors import get_active_operator
from operators_app.services import ensure_staff_operator
from requests_app.models import SupportRequest
from requests_app.selectors import list_events
from requests_app.services import close_request, edit_request, take_request
from servicedesk.admin_deletes import ServiceDeleteAdmin
from servicedesk.api import format_utc
from servicedesk.exceptions import DomainError

# A message's line in a request's page: its reply (or subject) cut to this many characters.
MESSAGE_LINE_CHARS = 120


class MessageInline(admin.TabularInline):
    """A request's mail, oldest first, one line each with a link to the whole message:
    history, so read-only."""

    model = Message
    fields = readonly_fields = ("sent", "who", "line", "delivery", "file_count")
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]
    classes = ["message-lines"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .only(
                "request_id",
                "created_at",
                "direction",
                "kind",
                "author_email",
                "subject",
                "reply",
                "delivery_status",
            )
            .annotate(files=Count("attachments"))
        )

    @admin.display(description="When")
    def sent(self, message: Message) -> str:
        return date_format(localtime(message.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description="From")
    def who(self, message: Message) -> str:
        return f"{message.get_kind_display()}: {message.author_email}"

    @admin.display(description="Message")
    def line(self, message: Message) -> str:
        text = " ".join((message.reply or message.subject).split())
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:messages_app_message_change", args=[message.pk]),
            Truncator(text).chars(MESSAGE_LINE_CHARS) or f"#{message.pk}",
        )

    @admin.display(description="Delivery")
    def delivery(self, message: Message) -> str:
        return message.get_delivery_status_display() or "-"

    @admin.display(description="Files")
    def file_count(self, message: Message) -> int:
        return message.files  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(SupportRequest)
class SupportRequestAdmin(ServiceDeleteAdmin):
    list_display = [
        "id",
        "subject",
        "requester_email",
        "status",
        "operator",
        "message_count",
        "last_message_at",
        "created_at",
    ]
    list_display_links = ["id", "subject"]
    list_filter = ["status", "operator", "created_at"]
    search_fields = ["subject", "requester_email", "requester_name"]
    list_select_related = ["operator"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["take_selected", "close_selected"]
    inlines = [MessageInline]
    readonly_fields = [
        "status",
        "operator",
        "created_at",
        "updated_at",
        "taken_at",
        "closed_at",
        "last_message_at",
        "first_response_at",
        "message_count",
        "last_reply_by",
        "history",
    ]
    fieldsets = [
        (None, {"fields": ["subject", "requester_email", "requester_name"]}),
        ("Workflow", {"fields": ["status", "operator", "taken_at", "closed_at"]}),
        (
            "Activity",
            {
                "fields": [
                    "created_at",
                    "updated_at",
                    "last_message_at",
                    "first_response_at",
                    "message_count",
                    "last_reply_by",
                ]
            },
        ),
        ("History", {"fields": ["history"]}),
    ]

    @admin.display(description="History")
    def history(self, obj: SupportRequest) -> str:
        """Who did what and when, oldest first (written by the services, so read-only)."""
        events = list_events(request_id=obj.pk) if obj.pk else []
        if not events:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    format_utc(event.at),
                    event.get_type_display(),
                    event.operator.name if event.operator else event.get_actor_type_display(),
                    json.dumps(event.data, ensure_ascii=False) if event.data else "",
                )
                for event in events
            ),
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)

    def save_model(self, request, obj, form, change):
        edit_request(support_request=obj)

    # Deleting a request deletes its messages' stored files too (when no other message
    # uses the same bytes).
    def delete_rows(self, ids: list[int]) -> None:
        delete_requests(request_ids=ids)

    def has_add_permission(self, request):
        # Requests are opened by mail, never by hand.
        return False

    def get_readonly_fields(self, request, obj=None):
        # The requester is who wrote in; changing it would break the one-open-request rule.
        return [*self.readonly_fields, "requester_email"]

    def _run(self, request, queryset, action, verb: str) -> None:
        done, failed = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                action(pk)
                done += 1
            except DomainError as exc:
                failed.append(f"#{pk}: {exc.detail}")
        if done:
            self.message_user(request, f"{verb} {done} request(s).", messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description="Take selected requests into work")
    def take_selected(self, request, queryset):
        ensure_staff_operator(user=request.user)
        operator = get_active_operator(user=request.user)
        if operator is None:
            self.message_user(
                request, "You need an active operator profile to take requests.", messages.ERROR
            )
            return
        self._run(
            request,
            queryset,
            lambda pk: take_request(request_id=pk, operator=operator),
            "Took",
        )

    @admin.action(description="Close selected requests")
    def close_selected(self, request, queryset):
        ensure_staff_operator(user=request.user)
        operator = get_active_operator(user=request.user)
        self._run(
            request,
            queryset,
            lambda pk: close_request(
                request_id=pk, operator=operator, is_staff=request.user.is_staff
            ),
            "Closed",
        )
