import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import PASSWORD, UserFactory
from requests_app.models import Party, Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("desk:queue")
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "conversation"}


@pytest.fixture
def desk(client, operator):
    client.force_login(operator.user)
    return client


def _url(name: str, support_request, **extra) -> str:
    return reverse(f"desk:{name}", kwargs={"request_id": support_request.pk, **extra})


# Access
# ------------------------------------------------------------------------------
def test_queue_without_a_session_redirects_to_the_login_with_next(client):
    response = client.get(QUEUE + "?tab=open")

    assert response.status_code == 302
    assert response["Location"] == "/desk/login/?next=/desk/%3Ftab%3Dopen"


def test_login_form_logs_an_operator_in_and_goes_to_next(client, operator):
    page = client.get("/desk/login/?next=/desk/%3Ftab%3Dopen")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content

    response = client.post(
        "/desk/login/",
        {"username": operator.user.username, "password": PASSWORD, "next": "/desk/?tab=open"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/desk/?tab=open"
    assert client.get(QUEUE).status_code == 200


def test_login_refuses_a_wrong_password_in_words(client, operator):
    response = client.post("/desk/login/", {"username": operator.user.username, "password": "x"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_login_is_throttled_like_every_login(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/desk/login/", {"username": operator.user.username, "password": "bad"})

    response = client.post(
        "/desk/login/", {"username": operator.user.username, "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "Retry-After" in response
    assert b"Too many failed logins" in response.content


def test_login_form_needs_csrf(operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/desk/login/", {"username": operator.user.username, "password": PASSWORD}
    )

    assert response.status_code == 403


def test_logout_asks_on_get_and_logs_out_on_post(desk):
    assert desk.get("/desk/logout/").status_code == 200
    assert desk.get(QUEUE).status_code == 200

    response = desk.post("/desk/logout/")

    assert response.status_code == 302
    assert desk.get(QUEUE).status_code == 302


def test_a_user_without_operator_profile_is_refused(client):
    client.force_login(UserFactory())

    response = client.get(QUEUE)

    assert response.status_code == 403
    assert b"no active operator profile" in response.content


def test_pages_carry_a_csp_without_inline_script(desk):
    support_request = SupportRequestFactory()
    for url in (QUEUE, _url("request", support_request), "/desk/login/"):
        csp = desk.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp


def test_unknown_request_is_404(desk):
    assert desk.get("/desk/requests/987654/").status_code == 404


# Queue
# ------------------------------------------------------------------------------
def test_queue_tabs_count_and_list_their_requests(desk, operator, other_operator):
    mine = SupportRequestFactory(subject="Mine one", taken=True, operator=operator)
    new = SupportRequestFactory(subject="Nobody has it")
    theirs = SupportRequestFactory(subject="Theirs", taken=True, operator=other_operator)
    closed = SupportRequestFactory(subject="Done and dusted", closed=True)

    pages = {tab: desk.get(QUEUE, {"tab": tab}) for tab in ("mine", "unassigned", "open", "closed")}

    assert b"Mine one" in pages["mine"].content
    assert b"Theirs" not in pages["mine"].content
    assert b"Nobody has it" in pages["unassigned"].content
    assert b"Mine one" not in pages["unassigned"].content
    for request in (mine, new, theirs):
        assert f"/desk/requests/{request.pk}/".encode() in pages["open"].content
    assert f"/desk/requests/{closed.pk}/".encode() not in pages["open"].content
    assert b"Done and dusted" in pages["closed"].content
    counts = pages["open"].context["queue"].counts
    assert counts == {"mine": 1, "unassigned": 1, "open": 3, "closed": 1}


def test_queue_default_sort_puts_the_longest_waiting_requester_first(desk):
    import datetime

    from django.utils import timezone

    now = timezone.now()
    answered = SupportRequestFactory(
        subject="answered",
        last_reply_by=Party.OPERATOR,
        last_message_at=now - datetime.timedelta(days=9),
    )
    recent = SupportRequestFactory(
        subject="recent", last_reply_by=Party.REQUESTER, last_message_at=now
    )
    oldest = SupportRequestFactory(
        subject="oldest",
        last_reply_by=Party.REQUESTER,
        last_message_at=now - datetime.timedelta(days=2),
    )

    rows = desk.get(QUEUE, {"tab": "open"}).context["rows"]

    assert [row["id"] for row in rows] == [oldest.pk, recent.pk, answered.pk]


def test_queue_filters_by_status_operator_and_search(desk, other_operator):
    SupportRequestFactory(subject="Printer jams", requester_email="ann@example.com")
    theirs = SupportRequestFactory(subject="VPN down", taken=True, operator=other_operator)

    by_search = desk.get(QUEUE, {"tab": "open", "q": "printer"}).context["rows"]
    by_operator = desk.get(QUEUE, {"tab": "open", "operator": other_operator.pk}).context["rows"]
    by_status = desk.get(QUEUE, {"tab": "open", "status": "in_progress"}).context["rows"]

    assert [row["subject"] for row in by_search] == ["Printer jams"]
    assert [row["id"] for row in by_operator] == [theirs.pk]
    assert [row["id"] for row in by_status] == [theirs.pk]


def test_queue_bad_filter_is_a_400_in_words(desk):
    response = desk.get(QUEUE, {"tab": "open", "status": "bogus"})

    assert response.status_code == 400
    assert b"Unknown status" in response.content


def test_queue_htmx_refresh_answers_the_results_only(desk):
    SupportRequestFactory(subject="Fresh one")

    response = desk.get(
        QUEUE, {"tab": "open"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results"
    )

    assert b"Fresh one" in response.content
    assert b"<html" not in response.content


def test_queue_escapes_user_text(desk):
    SupportRequestFactory(subject="<script>alert(1)</script>")

    content = desk.get(QUEUE, {"tab": "open"}).content

    assert b"<script>alert(1)" not in content
    assert b"&lt;script&gt;alert(1)" in content


def test_queue_pages(desk):
    SupportRequestFactory.create_batch(51)

    first = desk.get(QUEUE, {"tab": "open"})
    second = desk.get(QUEUE, {"tab": "open", "page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert b"Page 2 of 2" in second.content


# Conversation
# ------------------------------------------------------------------------------
def test_conversation_shows_the_thread_oldest_first_with_quotes_folded(desk):
    support_request = SupportRequestFactory(subject="Printer")
    InboundMessageFactory(
        request=support_request, body="First mail", reply="First mail", kind=Kind.REQUESTER
    )
    OutboundMessageFactory(request=support_request, body="Operator answer", kind=Kind.OPERATOR)
    InboundMessageFactory(
        request=support_request,
        body="Still broken\n\n> Operator answer",
        reply="Still broken",
        kind=Kind.REQUESTER,
    )

    content = desk.get(_url("request", support_request)).content.decode()

    assert (
        content.index("First mail")
        < content.index("Operator answer")
        < content.index("Still broken")
    )
    assert '<details class="quoted"><summary>Show quoted text</summary>' in content
    assert "msg-requester" in content
    assert "msg-operator" in content


def test_conversation_has_constant_queries(desk, django_assert_num_queries):
    support_request = SupportRequestFactory()
    InboundMessageFactory.create_batch(3, request=support_request)
    with django_assert_num_queries(9) as small:
        desk.get(_url("request", support_request))
    InboundMessageFactory.create_batch(47, request=support_request)
    with django_assert_num_queries(len(small.captured_queries)):
        desk.get(_url("request", support_request))


def test_queue_has_constant_queries(desk, django_assert_num_queries):
    SupportRequestFactory.create_batch(3)
    with django_assert_num_queries(9) as small:
        desk.get(QUEUE, {"tab": "open"})
    SupportRequestFactory.create_batch(60)
    with django_assert_num_queries(len(small.captured_queries)):
        desk.get(QUEUE, {"tab": "open"})


def test_html_version_is_served_in_a_sandboxed_srcdoc_frame(desk):
    message = InboundMessageFactory(html='<p onclick="x()">Hi <b>there</b> "q"</p>')

    content = desk.get(
        _url("message-html", message.request, message_id=message.pk)
    ).content.decode()

    assert "<iframe" in content
    assert " sandbox " in content
    assert "allow-scripts" not in content
    assert "allow-same-origin" not in content
    assert "srcdoc=" in content
    assert "&lt;b&gt;there&lt;/b&gt;" in content
    assert "default-src &#x27;none&#x27;" in content


def test_html_version_of_a_mail_without_html_is_404(desk):
    message = InboundMessageFactory(html="")

    assert desk.get(_url("message-html", message.request, message_id=message.pk)).status_code == 404


# Actions
# ------------------------------------------------------------------------------
def test_take_then_close(desk, operator, mailoutbox):
    support_request = SupportRequestFactory()

    taken = desk.post(_url("take", support_request), **HTMX)
    assert taken.status_code == 200
    assert b"You took this request." in taken.content
    support_request.refresh_from_db()
    assert (support_request.status, support_request.operator) == (Status.IN_PROGRESS, operator)

    closed = desk.post(_url("close", support_request))
    assert closed.status_code == 302
    support_request.refresh_from_db()
    assert support_request.status == Status.CLOSED


@pytest.mark.parametrize(
    ("action", "held_by_another", "status", "says"),
    [
        pytest.param("take", True, 409, b"Another operator took this request first.", id="taken"),
        pytest.param("close", False, 409, b"This request is closed", id="closed"),
        pytest.param("close", True, 403, b"only staff may close it", id="another-holder"),
    ],
)
def test_an_action_the_request_refuses_says_why(
    desk, other_operator, action, held_by_another, status, says
):
    if held_by_another:
        support_request = SupportRequestFactory(taken=True, operator=other_operator)
    else:
        support_request = SupportRequestFactory(closed=True)

    response = desk.post(_url(action, support_request), **HTMX)

    assert response.status_code == status
    assert says in response.content


def test_actions_need_csrf(operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator.user)
    support_request = SupportRequestFactory()

    assert strict.post(_url("take", support_request)).status_code == 403
    support_request.refresh_from_db()
    assert support_request.status == Status.NEW


def test_actions_on_unknown_request_are_404(desk):
    assert desk.post("/desk/requests/987654/take/").status_code == 404
    assert desk.post("/desk/requests/987654/reply/", {"body": "x"}).status_code == 404


def test_reply_with_a_file_mails_the_requester(
    desk, mailoutbox, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory(requester_email="ann@example.com")
    upload = SimpleUploadedFile("report.txt", b"the report", content_type="text/plain")

    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(
            _url("reply", support_request), {"body": "Here you go", "attachments": [upload]}, **HTMX
        )

    assert response.status_code == 200
    assert "desk-sent" in response["HX-Trigger-After-Settle"]
    (mail,) = mailoutbox
    assert mail.to == ["ann@example.com"]
    assert "Here you go" in mail.body
    assert [a[0] for a in mail.attachments] == ["report.txt"]


def test_reply_to_a_closed_request_keeps_the_typed_text(desk, mailoutbox):
    support_request = SupportRequestFactory(closed=True)

    response = desk.post(_url("reply", support_request), {"body": "My careful answer"}, **HTMX)

    assert response.status_code == 409
    assert b"This request is closed" in response.content
    assert not mailoutbox


def test_blank_reply_is_refused_and_text_kept_without_htmx(desk):
    support_request = SupportRequestFactory()

    response = desk.post(_url("reply", support_request), {"body": "   "})

    assert response.status_code == 400
    assert b"This field may not be blank." in response.content

    too_long = desk.post(_url("reply", support_request), {"body": "x" * 100_001})
    assert too_long.status_code == 400
    assert b"x" * 100_001 in too_long.content


def test_too_many_files_are_refused_in_words(desk, settings):
    settings.OUTBOUND_ATTACHMENT_MAX_COUNT = 1
    support_request = SupportRequestFactory()
    files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(2)]

    response = desk.post(
        _url("reply", support_request), {"body": "Two files", "attachments": files}
    )

    assert response.status_code == 400
    assert b"Attach at most 1 files" in response.content
    assert b"Two files" in response.content
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_send_again_requeues_a_failed_mail(desk, mailoutbox, django_capture_on_commit_callbacks):
    failed = OutboundMessageFactory(delivery_status=DeliveryStatus.FAILED, last_error="550")

    page = desk.get(_url("request", failed.request)).content
    assert b"Send again" in page
    assert b"Not delivered" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(_url("send-again", failed.request, message_id=failed.pk), **HTMX)

    assert b"The mail is queued again." in response.content
    failed.refresh_from_db()
    assert failed.delivery_status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1


def test_send_again_of_another_requests_message_is_404(desk):
    failed = OutboundMessageFactory(delivery_status=DeliveryStatus.FAILED)
    other = SupportRequestFactory()

    assert desk.post(_url("send-again", other, message_id=failed.pk)).status_code == 404


# Language
# ------------------------------------------------------------------------------
def test_pages_speak_russian_to_a_russian_browser(desk):
    response = desk.get(QUEUE, HTTP_ACCEPT_LANGUAGE="ru")

    assert "Очередь".encode() in response.content
    assert b'lang="ru"' in response.content


# Workflow actions
# ------------------------------------------------------------------------------
def test_assign_hands_a_request_to_another_operator(desk, operator, other_operator):
    support_request = SupportRequestFactory(taken=True, operator=operator)

    response = desk.post(_url("assign", support_request), {"operator": other_operator.pk}, **HTMX)

    assert response.status_code == 200
    assert b"The request is handed over." in response.content
    support_request.refresh_from_db()
    assert support_request.operator == other_operator


def test_assign_of_someone_elses_request_is_refused_in_words(desk, other_operator):
    support_request = SupportRequestFactory(taken=True, operator=other_operator)

    response = desk.post(_url("assign", support_request), {"operator": other_operator.pk}, **HTMX)

    assert response.status_code == 403
    assert b"only staff may close it or hand it on" in response.content


def test_assign_to_an_unknown_operator_says_so(desk, operator):
    support_request = SupportRequestFactory(taken=True, operator=operator)

    response = desk.post(_url("assign", support_request), {"operator": 999999}, **HTMX)

    assert response.status_code == 400
    assert b"There is no active operator with this id." in response.content


def test_note_is_stored_not_mailed_and_shown_apart(desk, mailoutbox):
    support_request = SupportRequestFactory()

    response = desk.post(_url("note", support_request), {"body": "Called them"}, **HTMX)

    assert response.status_code == 200
    assert not mailoutbox
    note = Message.objects.get(request=support_request, kind=Kind.NOTE)
    assert note.body == "Called them"
    assert b'class="msg msg-note"' in response.content
    assert "note-form" in response["HX-Trigger-After-Settle"]


def test_blank_note_is_refused(desk):
    support_request = SupportRequestFactory()

    response = desk.post(_url("note", support_request), {"body": "  "}, **HTMX)

    assert response.status_code == 400
    assert b"This field may not be blank." in response.content


def test_history_panel_lists_events(desk, operator):
    support_request = SupportRequestFactory()
    desk.post(_url("take", support_request))

    content = desk.get(_url("request", support_request)).content.decode()

    assert '<span class="event-type">Taken</span>' in content


def test_canned_reply_is_filled_in_for_the_request(desk, operator):
    from messages_app.models import CannedReply

    support_request = SupportRequestFactory(requester_name="Ann")
    canned = CannedReply.objects.create(
        title="Thanks", body="Hello {requester_name}, about #{request_id}.", created_by=operator
    )

    page = desk.get(_url("request", support_request)).content
    text = desk.get(_url("canned-reply", support_request, canned_reply_id=canned.pk))

    assert b">Thanks</option>" in page
    assert text.content.decode() == f"Hello Ann, about #{support_request.pk}."
    assert text["Content-Type"].startswith("text/plain")


def test_open_request_mails_the_requester_and_shows_it(
    desk, operator, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(
            "/desk/requests/new/",
            {
                "requester_email": "Bob@Example.com",
                "requester_name": "Bob",
                "subject": "Your laptop",
                "body": "It is ready.",
            },
        )

    assert response.status_code == 302
    support_request = SupportRequest.objects.get(requester_email="bob@example.com")
    assert response["Location"] == f"/desk/requests/{support_request.pk}/"
    assert support_request.operator == operator
    (mail,) = mailoutbox
    assert mail.to == ["bob@example.com"]


def test_open_request_for_a_requester_with_an_open_one_links_it(desk):
    existing = SupportRequestFactory(requester_email="bob@example.com")

    response = desk.post(
        "/desk/requests/new/",
        {"requester_email": "bob@example.com", "subject": "Again", "body": "Typed text"},
    )

    assert response.status_code == 409
    assert b"already has an open request" in response.content
    assert f"/desk/requests/{existing.pk}/".encode() in response.content
    assert b"Typed text" in response.content


def test_open_request_form_refuses_a_bad_address(desk):
    response = desk.post(
        "/desk/requests/new/", {"requester_email": "nope", "subject": "S", "body": "B"}
    )

    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content


def test_reply_declaring_a_body_past_the_files_limit_is_refused_unread(desk, settings):
    settings.OUTBOUND_ATTACHMENT_MAX_BYTES = 10
    support_request = SupportRequestFactory()
    big = SimpleUploadedFile("big.bin", b"x" * 5_000_000)

    response = desk.post(_url("reply", support_request), {"body": "Hi", "attachments": [big]})

    assert response.status_code == 413
    assert b"The attached files are too large" in response.content
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_queue_search_finds_words_in_the_mail_text(desk):
    found = SupportRequestFactory(subject="Broken device")
    InboundMessageFactory(request=found, body="The toner cartridge leaks", kind=Kind.REQUESTER)
    SupportRequestFactory(subject="Other thing")

    rows = desk.get(QUEUE, {"tab": "open", "q": "toner"}).context["rows"]

    assert [row["id"] for row in rows] == [found.pk]
