"""Logging: JSON in production, readable in development, a request id on every record.

The request id comes from nginx's `X-Request-ID` (or is generated here), is returned in
the response header, rides along in a Celery task's headers, and is added to every log
record by `RequestIdFilter`. Formatters mask mail addresses in every record at INFO and
above, so addresses reach the logs only at DEBUG; message bodies are never logged.
"""

import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# The Celery message header that carries the id from the web process to the worker.
TASK_HEADER = "servicedesk_request_id"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Ids from outside are accepted only in this shape: they end up in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Addresses in plain and URL-encoded form (query strings in access logs).
_ADDRESS = re.compile(
    r"[A-Za-z0-9._%+'-]+(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", re.IGNORECASE
)


def new_request_id() -> str:
    """A fresh random request id (32 hex digits, like nginx's `$request_id`)."""
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str | None:
    """The id if it has a safe shape, else None."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return None


def current_request_id() -> str | None:
    """The request id of the HTTP request or Celery task being handled, if any."""
    return request_id_var.get()


def redact_addresses(text: str) -> str:
    """Replace the local part of every mail address with `***`."""
    return _ADDRESS.sub(lambda match: f"***{match.group(1)}{match.group(2)}", text)


class RequestIdMiddleware:
    """Take the request id from `X-Request-ID` or make one; log with it and return it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _access_request_id(record: logging.LogRecord) -> str | None:
    # gunicorn logs its access line after the response, with the headers as `args`.
    if isinstance(record.args, Mapping):
        value = record.args.get("{x-request-id}o") or record.args.get("{x-request-id}i")
        return str(value) if value else None
    return None


class RequestIdFilter(logging.Filter):
    """Put `request_id` on every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            request_id = current_request_id() or _access_request_id(record)
            record.request_id = request_id if request_id and request_id != "-" else "-"
        return True


class RedactingFormatter(logging.Formatter):
    """The readable development format; addresses masked at INFO and above."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.INFO else redact_addresses(text)


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line; addresses masked at INFO and above."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.INFO else redact_addresses(text)


class AccessJsonFormatter(RedactingJsonFormatter):
    """gunicorn's access line as JSON, with the request's fields broken out."""

    FIELDS = {
        "remote_addr": "h",
        "method": "m",
        "path": "U",
        "query": "q",
        "status": "s",
        "bytes": "B",
        "duration_ms": "M",
        "user_agent": "a",
        "forwarded_for": "{x-forwarded-for}i",
    }

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if isinstance(record.args, Mapping):
            for name, atom in self.FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    log_data[name] = value


JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s %(process)d"
READABLE_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def build_logging_config(*, json_format: bool, level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` of every process: Django, gunicorn and Celery."""
    if json_format:
        formatters = {
            "default": {
                "()": "servicedesk.logging.RedactingJsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            },
            "access": {
                "()": "servicedesk.logging.AccessJsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            },
        }
    else:
        formatters = {
            "default": {"()": "servicedesk.logging.RedactingFormatter", "fmt": READABLE_FORMAT},
            "access": {"()": "servicedesk.logging.RedactingFormatter", "fmt": READABLE_FORMAT},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "servicedesk.logging.RequestIdFilter"}},
        "formatters": formatters,
        "handlers": {
            # stderr: stdout belongs to management commands' output (e.g. `spectacular`).
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "filters": ["request_id"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler would print each of its lines a second time
            # beside the root's (in development: "Watching for file changes" twice).
            "django": {"handlers": [], "level": level},
            "django.db.backends": {"level": "WARNING"},
            # 4xx answers are the API working as documented; 5xx still log at ERROR.
            "django.request": {"level": "ERROR"},
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
