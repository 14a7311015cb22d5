"""routing: the rule that places an inbound mail, first match wins (no database)."""

import pytest

from messages_app.inbound.routing import Route, requests_in_thread, route_message


def route(*, open_request_id=7, thread=(), tokens=()):
    return route_message(
        open_request_id=open_request_id,
        thread_request_ids=set(thread),
        request_tokens=list(tokens),
    )


def test_a_sender_without_an_open_request_opens_a_new_one_whatever_the_mail_names():
    assert route(open_request_id=None) == Route.NEW
    assert route(open_request_id=None, thread={7}, tokens=[7]) == Route.NEW


def test_thread_headers_naming_the_open_request_come_first():
    assert route(thread={7}, tokens=[7]) == Route.THREAD
    assert route(thread={3, 7}) == Route.THREAD


def test_the_subject_token_of_the_open_request_comes_second():
    assert route(tokens=[7]) == Route.SUBJECT
    assert route(thread={3}, tokens=[5, 7]) == Route.SUBJECT


@pytest.mark.parametrize(
    ("thread", "tokens"),
    [((), ()), ({3}, ()), ((), [3]), ({3}, [5])],
    ids=["nothing", "another-thread", "another-token", "both-elsewhere"],
)
def test_mail_naming_nothing_of_the_open_request_goes_there_as_the_senders_open_request(
    thread, tokens
):
    assert route(thread=thread, tokens=tokens) == Route.OPEN_REQUEST


def test_request_zero_is_a_request_like_any_other():
    # Only None means "no open request".
    assert route(open_request_id=0) == Route.OPEN_REQUEST
    assert route(open_request_id=0, thread={0}) == Route.THREAD
    assert route(open_request_id=0, tokens=[0]) == Route.SUBJECT


def test_routes_are_the_stored_values():
    assert [r.value for r in Route] == ["thread", "subject", "open_request", "new"]
    assert route(open_request_id=None) == "new"


def test_requests_in_thread_gathers_the_requests_of_every_answered_mail():
    index = {"<a@x>": {1}, "<b@x>": {2, 3}, "<c@x>": {4}}
    assert requests_in_thread(thread_ids=["<a@x>", "<b@x>"], index=index) == {1, 2, 3}
    assert requests_in_thread(thread_ids=["<c@x>"], index=index) == {4}


def test_requests_in_thread_ignores_mail_it_does_not_know():
    index = {"<a@x>": {1}}
    assert requests_in_thread(thread_ids=["<z@x>"], index=index) == set()
    assert requests_in_thread(thread_ids=[], index=index) == set()
    assert requests_in_thread(thread_ids=["<z@x>", "<a@x>"], index=index) == {1}
    assert requests_in_thread(thread_ids=["<a@x>"], index={}) == set()
