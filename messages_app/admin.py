"""The admin of mail: messages (with their files and a "send again" action), stored
attachments and canned replies. A request's own page, with its mail, is in
requests_app/admin.py."""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html

from messages_app.attachments import attachment_path, delete_attachments, delete_messages
from messages_app.models import Attachment, CannedReply, Message
from messages_app.outbound.outbox import send_again
from operators_app.selectors import get_active_operator
from servicedesk.admin_deletes import ServiceDeleteAdmin


def _download_link(attachment: Attachment) -> str:
    if attachment.omitted:
        return format_html(
            "{} ({}, omitted: {})",
            attachment.filename,
            filesizeformat(attachment.size),
            attachment.get_omitted_display(),
        )
    return format_html(
        '<a href="{}">{}</a> ({})',
        attachment_path(attachment.pk),
        attachment.filename,
        filesizeformat(attachment.size),
    )


class FilesMixin:
    """Read-only links to a message's files and raw mail, through the safe download view."""

    @admin.display(description="Files")
    def files(self, message: Message) -> str:
        links = [_download_link(attachment) for attachment in message.attachments.all()]
        if message.raw_key:
            links.append(
                format_html(
                    '<a href="{}">raw mail (message-{}.eml)</a>',
                    reverse("message-raw", kwargs={"id": message.pk}),
                    message.pk,
                )
            )
        return format_html("<br>".join(["{}"] * len(links)), *links) if links else "-"


_ATTACHMENT_COLUMNS = (
    "position",
    "download",
    "content_type",
    "size",
    "inline",
    "content_id",
    "omitted",
)


class AttachmentInline(admin.TabularInline):
    """A message's files, in document order; downloads go through the safe view."""

    model = Attachment
    fields = readonly_fields = _ATTACHMENT_COLUMNS
    extra = 0
    can_delete = False
    ordering = ["position", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="File")
    def download(self, attachment: Attachment) -> str:
        return _download_link(attachment)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Canned replies; one added here is written by the admin user's operator profile."""

    list_display = ["title", "created_by", "updated_at"]
    search_fields = ["title", "body"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = ["title", "body", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return get_active_operator(user=request.user) is not None

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = get_active_operator(user=request.user)
        super().save_model(request, obj, form, change)


@admin.register(Message)
class MessageAdmin(FilesMixin, ServiceDeleteAdmin):
    list_display = [
        "id",
        "request",
        "direction",
        "kind",
        "route",
        "author_email",
        "subject",
        "delivery_status",
        "attempts",
        "created_at",
    ]
    # `route`: why an inbound mail landed in its request (the routing rule that placed it).
    list_filter = ["direction", "kind", "route", "delivery_status", "created_at"]
    search_fields = ["subject", "author_email", "rfc_message_id", "external_id"]
    list_select_related = ["request"]
    raw_id_fields = ["request", "operator"]
    date_hierarchy = "created_at"
    actions = ["send_again"]
    inlines = [AttachmentInline]

    def get_readonly_fields(self, request, obj=None):
        # Mail that was received or sent is history: nothing of it is edited by hand.
        return [f.name for f in Message._meta.fields if f.name not in ("raw_key",)] + ["files"]

    def get_exclude(self, request, obj=None):
        return ["raw_key"]

    def delete_rows(self, ids: list[int]) -> None:
        delete_messages(message_ids=ids)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send selected failed messages again")
    def send_again(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        ids = send_again(message_ids=selected)
        skipped = len(selected) - len(ids)
        self.message_user(request, f"Queued {len(ids)} message(s) for delivery.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} message(s) that had not failed.", messages.WARNING
            )


@admin.register(Attachment)
class AttachmentAdmin(ServiceDeleteAdmin):
    """Every stored file, to find one by name or hash; files are history, never edited."""

    list_display = ["id", "download", "message", "content_type", "size", "inline", "omitted"]
    list_filter = ["omitted", "inline", "created_at"]
    search_fields = ["filename", "sha256", "content_id"]
    list_select_related = ["message"]
    raw_id_fields = ["message"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Attachment._meta.fields] + ["download"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Deleting a row deletes its stored bytes too, unless another message uses them.
    def delete_rows(self, ids: list[int]) -> None:
        delete_attachments(attachment_ids=ids)

    @admin.display(description="File")
    def download(self, attachment: Attachment) -> str:
        return _download_link(attachment)
