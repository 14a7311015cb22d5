"""Prometheus metrics: HTTP traffic, ingested mail, request timings, and the exposition.

Counters and histograms live in this process (or, under gunicorn with
PROMETHEUS_MULTIPROC_DIR set, in files every worker shares, so one scrape sees them
all). What the database knows (mail by delivery status, the backlog) is read at scrape
time by collectors the apps register (`register_scrape_collector`), so any web replica
answers for the whole service.
"""

import functools
import hmac
import ipaddress
import os
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

INGEST_OUTCOMES = ("created", "appended", "duplicate", "ignored", "rejected")

# Pages answer in tens of milliseconds; a webhook batch of large mail takes seconds.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "servicedesk_http_requests",
    "HTTP requests answered, by method, route and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "servicedesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route and status.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
INGESTED_MAIL = Counter(
    "servicedesk_inbound_messages",
    "Mail items received by the webhook, by outcome.",
    ["outcome"],
)

# Requesters wait minutes to days: buckets from a minute to a month.
_WAIT_BUCKETS = (
    60,
    300,
    900,
    1800,
    3600,
    4 * 3600,
    8 * 3600,
    86400,
    3 * 86400,
    7 * 86400,
    30 * 86400,
)


# Made on first use: a metric without labels writes its file as soon as it exists, and
# under PROMETHEUS_MULTIPROC_DIR that must not happen when a management command merely
# imports this module (before the directory is there).
@functools.cache
def first_response_histogram() -> Histogram:
    return Histogram(
        "servicedesk_request_first_response_seconds",
        "Time from a request's creation to the first operator reply.",
        buckets=_WAIT_BUCKETS,
    )


@functools.cache
def time_to_close_histogram() -> Histogram:
    return Histogram(
        "servicedesk_request_time_to_close_seconds",
        "Time from a request's creation to its close.",
        buckets=_WAIT_BUCKETS,
    )


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _route(request: HttpRequest) -> str:
    # The URL pattern, not the path: ids in paths would make a series per object.
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return "unmatched"
    return f"/{match.route}"


class PrometheusMiddleware:
    """Count and time every request by method, route pattern and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        labels = (method, _route(request), str(response.status_code))
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


def record_ingest_outcomes(summary: dict[str, int]) -> None:
    """Count a webhook batch's outcomes (its response's `summary`)."""
    for outcome in INGEST_OUTCOMES:
        count = summary.get(outcome) or 0
        if count > 0:
            INGESTED_MAIL.labels(outcome).inc(count)


def observe_after_commit(
    histogram: Callable[[], Histogram], start: datetime, end: datetime | None
) -> None:
    """Observe `end - start` once the caller's transaction commits (never for a rollback;
    nothing when `end` is not set)."""
    if end is None:
        return
    seconds = max((end - start).total_seconds(), 0.0)
    transaction.on_commit(lambda: histogram().observe(seconds))


# Collectors read at scrape time (what the database knows), registered by the apps from
# their AppConfig.ready: this package imports no app.
_SCRAPE_COLLECTORS: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Read `collector` at every scrape, in every process's exposition (one collector of a
    class, however often this is called)."""
    if not any(type(known) is type(collector) for known in _SCRAPE_COLLECTORS):
        _SCRAPE_COLLECTORS.append(collector)


def _scrape_registry(registry: CollectorRegistry) -> CollectorRegistry:
    for collector in _SCRAPE_COLLECTORS:
        registry.register(collector)
    return registry


def render_metrics() -> bytes:
    """The Prometheus text exposition of this process (or all gunicorn workers) and the DB."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call, unused-ignore]
        return generate_latest(_scrape_registry(registry))
    return generate_latest(REGISTRY) + generate_latest(_scrape_registry(CollectorRegistry()))


def _client_allowed(request: HttpRequest) -> bool:
    allowed = [entry.strip() for entry in settings.METRICS_ALLOWED_IPS if entry.strip()]
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _token_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for allowed addresses and (when set) the bearer token."""
    if not _client_allowed(request):
        return JsonResponse(
            {"detail": "Metrics are not served to this address.", "code": "permission_denied"},
            status=403,
        )
    if not _token_ok(request):
        response = JsonResponse(
            {"detail": "A valid metrics bearer token is required.", "code": "not_authenticated"},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
