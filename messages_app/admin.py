from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from operators_app.selectors import get_active_operator
from requests_app.admin import SupportRequestAdmin
from requests_app.models import SupportRequest

from .models import CannedReply, DeliveryStatus, Message
from .outbox import enqueue_delivery

HISTORY_FIELDS = [
    "created_at",
    "direction",
    "kind",
    "author_email",
    "subject",
    "body",
    "delivery_status",
    "sent_at",
    "attempts",
    "last_error",
]


class MessageInline(admin.StackedInline):
    """A request's mail, oldest first: history, so read-only."""

    model = Message
    fields = HISTORY_FIELDS
    readonly_fields = HISTORY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


# The request admin is defined in requests_app, which must not import this app; the
# messages inline is attached here by re-registering it.
admin.site.unregister(SupportRequest)


@admin.register(SupportRequest)
class SupportRequestWithMessagesAdmin(SupportRequestAdmin):
    inlines = [MessageInline]


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
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "request",
        "direction",
        "kind",
        "author_email",
        "subject",
        "delivery_status",
        "attempts",
        "created_at",
    ]
    list_filter = ["direction", "kind", "delivery_status", "created_at"]
    search_fields = ["subject", "author_email", "rfc_message_id", "external_id"]
    list_select_related = ["request"]
    raw_id_fields = ["request", "operator"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def get_readonly_fields(self, request, obj=None):
        # Mail that was received or sent is history: nothing of it is edited by hand.
        return [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send selected failed messages again")
    def send_again(self, request, queryset):
        with transaction.atomic():
            ids = list(
                queryset.filter(delivery_status=DeliveryStatus.FAILED).values_list("pk", flat=True)
            )
            Message.objects.filter(pk__in=ids).update(
                delivery_status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=timezone.now(),
                last_error="",
            )
            for pk in ids:
                transaction.on_commit(lambda pk=pk: enqueue_delivery(pk))
        skipped = queryset.count() - len(ids)
        self.message_user(request, f"Queued {len(ids)} message(s) for delivery.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} message(s) that had not failed.", messages.WARNING
            )
