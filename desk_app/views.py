"""The operator console's pages: thin views over the services and selectors the API uses."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError

from desk_app.errors import describe
from desk_app.security import MAIL_FRAME_CSP, operator_required, with_desk_csp
from desk_app.selectors import SORTS, TABS, get_queue
from messages_app.attachments import (
    INLINE_TYPES,
    AttachmentsTooLargeError,
    check_outbound_files,
    refuse_oversized_upload,
)
from messages_app.canned import render_canned_reply
from messages_app.outbound.outbox import send_again
from messages_app.selectors import (
    get_canned_reply,
    get_message,
    list_canned_replies,
    list_request_messages,
)
from messages_app.serializers import NoteCreateSerializer, ReplyCreateSerializer
from operators_app.selectors import list_active_operators
from requests_app.errors import OpenRequestExistsError
from requests_app.models import Status, SupportRequest
from requests_app.selectors import get_request, list_events
from requests_app.serializers import AssignSerializer, OpenRequestSerializer
from requests_app.services import (
    add_note,
    assign_request,
    close_request,
    open_request,
    reply_to_request,
    take_request,
)
from servicedesk.api import validated
from servicedesk.exceptions import DomainError

STATUS_LABELS = {
    Status.NEW: gettext_lazy("New"),
    Status.IN_PROGRESS: gettext_lazy("In progress"),
    Status.CLOSED: gettext_lazy("Closed"),
}
EVENT_LABELS = {
    "created": gettext_lazy("Opened"),
    "message_received": gettext_lazy("Mail received"),
    "taken": gettext_lazy("Taken"),
    "assigned": gettext_lazy("Assigned"),
    "replied": gettext_lazy("Replied"),
    "noted": gettext_lazy("Note added"),
    "closed": gettext_lazy("Closed"),
    "notice_sent": gettext_lazy("Notice sent"),
    "mail_failed": gettext_lazy("Mail failed"),
}
TAB_LABELS = {
    "mine": gettext_lazy("Mine"),
    "unassigned": gettext_lazy("Unassigned"),
    "open": gettext_lazy("All open"),
    "closed": pgettext_lazy("queue tab", "Closed"),
}
# Attachments shown as thumbnails (the download view serves them inline).
IMAGE_TYPES = frozenset(t for t in INLINE_TYPES if t.startswith("image/"))
# A sent reply clears the person's draft (desk.js listens for this htmx event).
SENT_EVENT = "desk-sent"


@method_decorator(with_desk_csp, name="dispatch")
class DeskLoginView(LoginView):
    """Django's login (authenticate() with the request, so django-axes counts and limits it)."""

    template_name = "desk/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("desk:queue")


@with_desk_csp
def logout_view(request):
    """GET asks, POST logs out (a link must not be able to log anyone out)."""
    if request.method == "POST":
        logout(request)
        return redirect("desk:login")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return TemplateResponse(request, "desk/logout.html")


def _page_number(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 10**9 else 1


def _rows(queue) -> list[dict]:
    # What each row shows, resolved here once per page rather than by template tags on
    # every row: a page of 50 rows otherwise spends most of its time in translate and url.
    labels = {status: str(label) for status, label in STATUS_LABELS.items()}
    link = reverse("desk:request", kwargs={"request_id": 0}).removesuffix("0/")
    ago = _("%(age)s ago")
    now = timezone.now()
    rows = queue.rows
    for row in rows:
        row["url"] = f"{link}{row['id']}/"
        row["status_label"] = labels[row["status"]]
        row["is_waiting"] = row["last_reply_by"] == "requester" and row["status"] != Status.CLOSED
        last = row["last_message_at"]
        row["age"] = ago % {"age": timesince(last, now)} if last else ""
    return rows


@require_GET
@operator_required
def queue_view(request):
    """The queue: a tab, the person's filters and search, one page of rows."""
    params = request.GET
    tab = params.get("tab", "mine")
    tab = tab if tab in TABS else "mine"
    default_sort = "newest" if tab == "closed" else "waiting"
    sort = params.get("sort", default_sort)
    sort = sort if sort in SORTS else default_sort
    queue = get_queue(
        operator_id=request.operator.pk,
        tab=tab,
        sort=sort,
        status=params.get("status", ""),
        operator=params.get("operator", ""),
        search=params.get("q", ""),
        page_number=_page_number(params.get("page", "")),
    )
    context = {
        "queue": queue,
        "rows": _rows(queue),
        "params": {name: params.get(name, "") for name in ("status", "operator", "q")},
        "tabs": [(name, TAB_LABELS[name], queue.counts[name]) for name in TABS],
        "sorts": SORTS,
        "statuses": list(STATUS_LABELS.items()),
        "operators": list_active_operators(),
    }
    template = "desk/queue.html"
    if request.htmx and request.htmx.target == "queue-results":
        template = "desk/_queue_results.html"
    return TemplateResponse(request, template, context, status=400 if queue.errors else 200)


def _conversation(request, request_id: int, **extra) -> dict:
    support_request = get_request(request_id=request_id)
    if support_request is None:
        raise Http404("No request with this id.")
    thread = list_request_messages(request_id=request_id).annotate(
        has_html=ExpressionWrapper(~Q(html=""), output_field=BooleanField())
    )
    return {
        "support_request": support_request,
        "thread": thread,
        "is_holder": support_request.operator_id == request.operator.pk,
        "reply_form": {"body": "", "subject": ""},
        "note_form": {"body": ""},
        "image_types": IMAGE_TYPES,
        "events": _labelled(list_events(request_id=request_id)),
        "operators": list_active_operators(),
        "canned_replies": list_canned_replies(),
        **extra,
    }


def _labelled(events) -> list:
    labels = {event_type: str(label) for event_type, label in EVENT_LABELS.items()}
    events = list(events)
    for event in events:
        event.label = labels.get(event.type, event.type)
    return events


def _render(request, request_id: int, *, status: int = 200, sent: str = "", **extra):
    """The conversation: the whole page, or its main part for htmx."""
    context = _conversation(request, request_id, **extra)
    template = "desk/_conversation.html" if request.htmx else "desk/request.html"
    response = TemplateResponse(request, template, context, status=status)
    if sent and request.htmx:
        response["HX-Trigger-After-Settle"] = json.dumps({SENT_EVENT: {"form": sent}})
    return response


def _after_action(request, request_id: int, *, notice: str, sent: str = ""):
    """The conversation after a change (PRG without htmx); `sent` names the form whose
    text went out and may be cleared."""
    if request.htmx:
        return _render(request, request_id, notice=notice, sent=sent)
    return redirect("desk:request", request_id=request_id)


def _failed(request, request_id: int, error, *, form: str, **extra):
    """The conversation with the error in words and everything the person typed kept."""
    status = getattr(error, "status_code", 400)
    return _render(request, request_id, status=status, errors={form: describe(error)}, **extra)


def _request_action(
    *,
    form: str,
    refused: tuple[type[Exception], ...] = (DomainError,),
    keeps: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A change to one request: a missing request answers 404, a `refused` change the
    conversation with the error on `form` and the fields named in `keeps` as typed."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def acted(request, request_id: int, **kwargs):
            try:
                return view(request, request_id, **kwargs)
            except SupportRequest.DoesNotExist:
                raise Http404("No request with this id.") from None
            except refused as error:
                typed = {name: request.POST.get(name, "") for name in keeps}
                kept = {f"{form}_form": typed} if keeps else {}
                return _failed(request, request_id, error, form=form, **kept)

        return acted

    return decorate


@require_GET
@operator_required
def request_view(request, request_id: int):
    """One request as a conversation."""
    return _render(request, request_id)


@require_POST
@operator_required
@_request_action(form="status")
def take_view(request, request_id: int):
    """Take the request (the API's take)."""
    take_request(request_id=request_id, operator=request.operator)
    return _after_action(request, request_id, notice=_("You took this request."))


@require_POST
@operator_required
@_request_action(form="status")
def close_view(request, request_id: int):
    """Close the request (the API's close)."""
    close_request(request_id=request_id, operator=request.operator, is_staff=request.user.is_staff)
    return _after_action(request, request_id, notice=_("The request is closed."))


@require_POST
@operator_required
@_request_action(form="reply", refused=(DomainError, ValidationError), keeps=("body", "subject"))
def reply_view(request, request_id: int):
    """Reply to the requester with files (the API's reply, with its validation)."""
    try:
        # Before anything reads the body: a declared length past the files' limit is refused
        # unread (the person's text comes back from their browser's draft).
        refuse_oversized_upload(request)
    except AttachmentsTooLargeError as error:
        return _failed(request, request_id, error, form="reply")
    reply = validated(
        ReplyCreateSerializer,
        {"body": request.POST.get("body", ""), "subject": request.POST.get("subject", "")},
    )
    files = request.FILES.getlist("attachments")
    check_outbound_files(files)
    reply_to_request(
        request_id=request_id,
        operator=request.operator,
        body=reply["body"],
        subject=reply.get("subject") or None,
        attachments=files,
    )
    return _after_action(
        request, request_id, notice=_("Your reply is on its way."), sent="reply-form"
    )


@require_POST
@operator_required
def send_again_view(request, request_id: int, message_id: int):
    """Queue a failed outbound mail of this request for delivery again."""
    message = get_message(message_id=message_id)
    if message is None or message.request_id != request_id:
        raise Http404("No message with this id on this request.")
    queued = send_again(message_ids=[message_id])
    notice = _("The mail is queued again.") if queued else _("This mail had not failed.")
    return _after_action(request, request_id, notice=notice)


@require_GET
@operator_required
def message_html_view(request, request_id: int, message_id: int):
    """A mail's sanitised HTML inside a sandboxed iframe (no scripts, no same origin)."""
    message = get_message(message_id=message_id)
    if message is None or message.request_id != request_id or not message.html:
        raise Http404("This mail has no HTML version.")
    return TemplateResponse(
        request,
        "desk/_message_html.html",
        {"message": message, "frame_csp": MAIL_FRAME_CSP},
    )


@require_POST
@operator_required
@_request_action(form="status", refused=(DomainError, ValidationError, DjangoValidationError))
def assign_view(request, request_id: int):
    """Hand the request to an operator picked from the list (the API's assign)."""
    chosen = validated(AssignSerializer, {"operator": request.POST.get("operator", "")})
    assign_request(request_id=request_id, actor=request.operator, to_operator_id=chosen["operator"])
    return _after_action(request, request_id, notice=_("The request is handed over."))


@require_POST
@operator_required
@_request_action(form="note", refused=(DomainError, ValidationError), keeps=("body",))
def note_view(request, request_id: int):
    """Add an internal note, never mailed (the API's note, with its validation)."""
    note = validated(NoteCreateSerializer, {"body": request.POST.get("body", "")})
    add_note(request_id=request_id, operator=request.operator, body=note["body"])
    return _after_action(request, request_id, notice=_("The note is added."), sent="note-form")


@require_GET
@operator_required
def canned_reply_view(request, request_id: int, canned_reply_id: int):
    """A canned reply filled in for this request and operator, as plain text for the reply box."""
    support_request = get_request(request_id=request_id)
    canned_reply = get_canned_reply(canned_reply_id=canned_reply_id)
    if support_request is None or canned_reply is None:
        raise Http404("No such request or canned reply.")
    text = render_canned_reply(
        canned_reply=canned_reply, support_request=support_request, operator=request.operator
    )
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@operator_required
def open_request_view(request):
    """Open a new request for a requester: the operator's first mail to them (the API's)."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    fields = ("requester_email", "requester_name", "subject", "body")
    typed = {name: request.POST.get(name, "") for name in fields}
    context: dict[str, Any] = {"typed": typed, "field_errors": {}}
    if request.method == "GET":
        return TemplateResponse(request, "desk/open_request.html", context)
    serializer = OpenRequestSerializer(data=typed)
    if not serializer.is_valid():
        context["field_errors"] = serializer.errors
        return TemplateResponse(request, "desk/open_request.html", context, status=400)
    try:
        support_request = open_request(operator=request.operator, **serializer.validated_data)
    except OpenRequestExistsError as error:
        context.update(errors=describe(error), existing_id=error.request_id)
        return TemplateResponse(request, "desk/open_request.html", context, status=409)
    return redirect("desk:request", request_id=support_request.pk)
