"""Structured logs: the request id on every record and answer, JSON lines, masked addresses."""

import json
import logging
import logging.config
from types import SimpleNamespace

import pytest

from servicedesk import celery as celery_module
from servicedesk.logging import (
    TASK_HEADER,
    AccessJsonFormatter,
    RequestIdFilter,
    build_logging_config,
    current_request_id,
    redact_addresses,
    request_id_var,
)


def _record(message: str, *args, level: int = logging.INFO, name: str = "servicedesk.test"):
    return logging.LogRecord(name, level, __file__, 1, message, args or None, None)


def _format(config_formatter: str, record: logging.LogRecord, *, json_format: bool) -> str:
    config = build_logging_config(json_format=json_format)
    config["handlers"] = {}
    config["root"] = {"handlers": [], "level": "INFO"}
    config["loggers"] = {}
    spec = dict(config["formatters"][config_formatter])
    factory = spec.pop("()")
    module, _, name = factory.rpartition(".")
    formatter_class = getattr(__import__(module, fromlist=[name]), name)
    RequestIdFilter().filter(record)
    return formatter_class(**spec).format(record)


@pytest.mark.django_db
def test_every_answer_carries_a_generated_request_id(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_the_request_id_from_nginx_is_kept(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc123def456-from-nginx")

    assert response["X-Request-ID"] == "abc123def456-from-nginx"


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["short", "has spaces in it", "new\nline-injected", "x" * 200])
def test_a_request_id_of_a_strange_shape_is_replaced(client, bad):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)

    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_records_get_the_current_request_id_or_a_dash():
    record = _record("outside")
    RequestIdFilter().filter(record)
    assert record.request_id == "-"

    token = request_id_var.set("req-0123456789")
    try:
        inside = _record("inside")
        RequestIdFilter().filter(inside)
    finally:
        request_id_var.reset(token)
    assert inside.request_id == "req-0123456789"


def test_json_lines_have_time_level_logger_message_and_request_id():
    token = request_id_var.set("req-json-0001")
    try:
        line = _format("default", _record("Stored %s message(s)", 3), json_format=True)
    finally:
        request_id_var.reset(token)

    entry = json.loads(line)
    assert entry["message"] == "Stored 3 message(s)"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "servicedesk.test"
    assert entry["request_id"] == "req-json-0001"
    assert entry["time"].startswith("20")


def test_the_development_format_is_one_readable_line():
    line = _format("default", _record("Took request %s", 7), json_format=False)

    assert line.endswith("INFO [-] servicedesk.test: Took request 7")


@pytest.mark.parametrize("json_format", [True, False])
def test_addresses_are_masked_at_info_and_above(json_format):
    line = _format(
        "default",
        _record("Delivery to %s failed", "Jane.Doe@Example.com", level=logging.WARNING),
        json_format=json_format,
    )

    assert "Jane.Doe" not in line
    assert "***@Example.com" in line


def test_addresses_are_kept_at_debug_level():
    line = _format(
        "default", _record("Parsed %s", "jane@example.com", level=logging.DEBUG), json_format=True
    )

    assert "jane@example.com" in line


def test_masking_covers_url_encoded_addresses_in_query_strings():
    assert (
        redact_addresses("GET /api/v1/requests/?requester_email=jane%40example.com")
        == "GET /api/v1/requests/?requester_email=***%40example.com"
    )


def test_gunicorn_access_lines_become_json_with_the_request_fields():
    atoms = {
        "h": "127.0.0.1",
        "m": "GET",
        "U": "/api/v1/requests/",
        "q": "requester_email=jane%40example.com",
        "s": "200",
        "B": 512,
        "M": 12,
        "a": "curl/8",
        "r": "GET /api/v1/requests/?requester_email=jane%40example.com HTTP/1.1",
        "{x-request-id}o": "req-access-0001",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s', (atoms,), None
    )
    RequestIdFilter().filter(record)

    entry = json.loads(AccessJsonFormatter(timestamp="time").format(record))

    assert entry["request_id"] == "req-access-0001"
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/requests/"
    assert entry["status"] == "200"
    assert entry["duration_ms"] == 12
    assert "jane" not in json.dumps(entry)


def test_logging_config_is_valid_for_dictconfig_in_both_formats():
    for json_format in (True, False):
        config = build_logging_config(json_format=json_format, level="WARNING")
        logging.config.dictConfig({**config, "disable_existing_loggers": False})
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def test_a_queued_task_carries_the_request_id_in_its_headers():
    headers: dict = {}
    token = request_id_var.set("req-task-000001")
    try:
        celery_module._add_request_id_header(headers=headers)
    finally:
        request_id_var.reset(token)

    assert headers[TASK_HEADER] == "req-task-000001"


def test_a_task_queued_outside_a_request_carries_no_request_id():
    headers: dict = {}

    celery_module._add_request_id_header(headers=headers)

    assert TASK_HEADER not in headers


def test_the_worker_logs_a_task_with_the_request_id_it_arrived_with():
    task = SimpleNamespace(request=SimpleNamespace(**{TASK_HEADER: "req-worker-00001"}))

    celery_module._bind_request_id(task_id="t-1", task=task)
    try:
        assert current_request_id() == "req-worker-00001"
    finally:
        celery_module._unbind_request_id(task_id="t-1")

    assert current_request_id() is None
