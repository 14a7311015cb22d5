"""/metrics: Prometheus text with traffic, ingested mail, outbound mail and the backlog."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from messages_app.models import DeliveryStatus
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from servicedesk import metrics
from servicedesk.metrics import record_ingest_outcomes

pytestmark = pytest.mark.django_db


def _scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_requests_are_counted_and_timed_by_method_route_and_status(client):
    before = _scrape(client)
    key = ("method", "GET"), ("route", "/healthz"), ("status", "200")
    client.get("/healthz")
    client.get("/healthz")

    after = _scrape(client)

    counted = after[("servicedesk_http_requests_total", key)]
    assert counted - before.get(("servicedesk_http_requests_total", key), 0) == 2
    assert after[("servicedesk_http_request_duration_seconds_count", key)] >= 2


def test_routes_are_url_patterns_not_paths(client):
    client.get("/api/v1/requests/123456/")
    client.get("/no/such/page/")

    routes = {dict(labels).get("route") for _, labels in _scrape(client)}

    assert "/api/v1/requests/<int:id>/" in routes
    assert not any(route and "123456" in route for route in routes)
    assert "unmatched" in routes or "/^api/" in routes


def test_ingested_mail_is_counted_by_outcome(client):
    before = _scrape(client)

    record_ingest_outcomes({"created": 2, "appended": 1, "duplicate": 0, "rejected": 3})
    record_ingest_outcomes({"created": 1, "bogus": 5})

    after = _scrape(client)

    def delta(outcome: str) -> float:
        key = ("servicedesk_inbound_messages_total", (("outcome", outcome),))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("created") == 3
    assert delta("appended") == 1
    assert delta("rejected") == 3
    assert delta("duplicate") == 0
    assert delta("bogus") == 0


def test_outbound_mail_by_status_and_the_backlog_come_from_the_database(client):
    now = timezone.now()
    OutboundMessageFactory.create_batch(2, next_attempt_at=now - timedelta(minutes=1))
    OutboundMessageFactory(
        next_attempt_at=now + timedelta(hours=1), created_at=now - timedelta(minutes=10)
    )
    OutboundMessageFactory(delivery_status=DeliveryStatus.SENT, sent_at=now)
    OutboundMessageFactory(delivery_status=DeliveryStatus.FAILED)
    InboundMessageFactory()

    samples = _scrape(client)

    assert samples[("servicedesk_outbound_messages", (("status", "pending"),))] == 3
    assert samples[("servicedesk_outbound_messages", (("status", "sent"),))] == 1
    assert samples[("servicedesk_outbound_messages", (("status", "failed"),))] == 1
    assert samples[("servicedesk_outbox_backlog", ())] == 3
    assert samples[("servicedesk_outbox_due", ())] == 2
    assert samples[("servicedesk_outbox_oldest_pending_age_seconds", ())] >= 600
    assert samples[("servicedesk_metrics_database_up", ())] == 1


def test_an_empty_outbox_has_no_backlog(client):
    samples = _scrape(client)

    assert samples[("servicedesk_outbox_backlog", ())] == 0
    assert samples[("servicedesk_outbox_oldest_pending_age_seconds", ())] == 0


def test_a_database_outage_is_reported_not_raised(client, monkeypatch):
    from django.db import OperationalError

    from messages_app.models import Message

    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(Message.objects, "filter", broken)

    samples = _scrape(client)

    assert samples[("servicedesk_metrics_database_up", ())] == 0
    assert ("servicedesk_outbox_backlog", ()) not in samples


def test_addresses_outside_the_allowed_networks_get_403(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    response = client.get("/metrics", REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_an_empty_allow_list_allows_any_address(client, settings):
    settings.METRICS_ALLOWED_IPS = [""]

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_a_configured_token_is_required(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    _scrape(client, HTTP_AUTHORIZATION="Bearer scrape-secret")


def test_metrics_answer_only_get(client):
    assert client.post("/metrics").status_code == 405


def test_gunicorn_workers_share_counters_through_the_multiprocess_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from prometheus_client import values

    # What a gunicorn worker started with PROMETHEUS_MULTIPROC_DIR writes: a file per process.
    value_class = values.MultiProcessValue(process_identifier=lambda: 4242)
    value = value_class(
        "counter",
        "servicedesk_inbound_messages",
        "servicedesk_inbound_messages_total",
        ("outcome",),
        ("created",),
        "",
    )
    value.inc(5)

    text = metrics.render_metrics().decode()

    assert 'servicedesk_inbound_messages_total{outcome="created"} 5.0' in text
    assert "servicedesk_outbox_backlog" in text


def test_the_webhook_counts_its_outcomes(client, settings):
    settings.INBOUND_WEBHOOK_SECRET = "metrics-webhook-secret"
    body = json.dumps(
        {
            "messages": [
                {"user_email": "jane@example.com", "title": "Printer", "description": "Jams."},
                {"user_email": "not an address", "title": "Broken"},
            ]
        }
    ).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(b"metrics-webhook-secret", f"{timestamp}.".encode() + body, hashlib.sha256)
    before = _scrape(client)

    response = client.post(
        "/api/v1/inbound/emails/",
        data=body,
        content_type="application/json",
        HTTP_X_SERVICEDESK_TIMESTAMP=timestamp,
        HTTP_X_SERVICEDESK_SIGNATURE=f"sha256={digest.hexdigest()}",
    )

    assert response.status_code == 200, response.content
    after = _scrape(client)
    for outcome in ("created", "rejected"):
        key = ("servicedesk_inbound_messages_total", (("outcome", outcome),))
        assert after[key] - before.get(key, 0) == 1


def test_first_response_and_close_times_are_histograms(
    client, operator, django_capture_on_commit_callbacks
):
    from requests_app.services import add_note, close_request, reply_to_request, take_request
    from requests_app.tests.factories import SupportRequestFactory

    support_request = SupportRequestFactory(created_at=timezone.now() - timedelta(hours=2))
    first, close = (
        ("servicedesk_request_first_response_seconds_count", ()),
        ("servicedesk_request_time_to_close_seconds_count", ()),
    )
    le_hour = ("servicedesk_request_first_response_seconds_bucket", (("le", "3600.0"),))
    le_4h = ("servicedesk_request_first_response_seconds_bucket", (("le", "14400.0"),))
    before = _scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        take_request(request_id=support_request.pk, operator=operator)
        add_note(request_id=support_request.pk, operator=operator, body="n")
        reply_to_request(request_id=support_request.pk, operator=operator, body="one")
        reply_to_request(request_id=support_request.pk, operator=operator, body="two")
        close_request(request_id=support_request.pk, operator=operator)

    after = _scrape(client)
    assert after[first] - before.get(first, 0) == 1
    assert after[close] - before.get(close, 0) == 1
    assert after[le_hour] - before.get(le_hour, 0) == 0
    assert after[le_4h] - before.get(le_4h, 0) == 1


def test_a_collector_class_is_read_once_however_often_it_is_registered(client):
    from messages_app.outbound.metrics import OutboxCollector

    metrics.register_scrape_collector(OutboxCollector())

    text = metrics.render_metrics().decode()

    assert text.count("# TYPE servicedesk_outbox_backlog gauge") == 1
