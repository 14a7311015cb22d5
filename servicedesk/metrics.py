"""Prometheus metrics: HTTP traffic, ingested mail, outbound mail and the outbox backlog.

Counters and histograms live in this process (or, under gunicorn with
PROMETHEUS_MULTIPROC_DIR set, in files every worker shares, so one scrape sees them
all). What the database knows (mail by delivery status, the backlog) is read at scrape
time, so any web replica answers for the whole service.
"""

import functools
import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Min, Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
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
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INGEST_OUTCOMES = ("created", "appended", "duplicate", "ignored", "rejected")

HTTP_REQUESTS = Counter(
    "servicedesk_http_requests",
    "HTTP requests answered, by method, route and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "servicedesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route and status.",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
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


def _route(request) -> str:
    # The URL pattern, not the path: ids in paths would make a series per object.
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return "unmatched"
    return "/" + match.route


class PrometheusMiddleware:
    """Count and time every request by method, route pattern and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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


def observe_after_commit(histogram: Callable[[], Histogram], start, end) -> None:
    """Observe `end - start` once the caller's transaction commits (never for a rollback)."""
    seconds = max((end - start).total_seconds(), 0.0)
    transaction.on_commit(lambda: histogram().observe(seconds))


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time: mail by delivery status, the backlog."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from messages_app.models import DeliveryStatus, Direction, Message
        from messages_app.outbound.delivery import GAVE_UP_PREFIX
        from servicedesk.health import smtp_configured, smtp_ready

        up = GaugeMetricFamily(
            "servicedesk_metrics_database_up",
            "1 when the database answered this scrape's queries.",
        )
        try:
            now = timezone.now()
            by_status = dict(
                Message.objects.filter(direction=Direction.OUTBOUND)
                .order_by()
                .values_list("delivery_status")
                .annotate(count=Count("id"))
            )
            backlog = Message.objects.filter(delivery_status=DeliveryStatus.PENDING).aggregate(
                pending=Count("id"),
                due=Count("id", filter=Q(next_attempt_at__lte=now)),
                oldest=Min("created_at"),
                retrying=Count("id", filter=~Q(last_error="")),
            )
            given_up = Message.objects.filter(
                delivery_status=DeliveryStatus.FAILED, last_error__startswith=GAVE_UP_PREFIX
            ).count()
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        outbound = GaugeMetricFamily(
            "servicedesk_outbound_messages",
            "Outbound mail by delivery status.",
            labels=["status"],
        )
        for status in DeliveryStatus.values:
            outbound.add_metric([status], by_status.get(status, 0))
        yield outbound

        pending = GaugeMetricFamily(
            "servicedesk_outbox_backlog",
            "Outbound mail not sent yet (pending).",
        )
        pending.add_metric([], backlog["pending"])
        yield pending

        due = GaugeMetricFamily(
            "servicedesk_outbox_due",
            "Pending outbound mail whose next attempt is due now.",
        )
        due.add_metric([], backlog["due"])
        yield due

        retrying = GaugeMetricFamily(
            "servicedesk_outbox_retrying",
            "Pending outbound mail whose last attempt failed temporarily (SMTP down, 4xx).",
        )
        retrying.add_metric([], backlog["retrying"])
        yield retrying

        gave_up = GaugeMetricFamily(
            "servicedesk_outbound_given_up",
            "Outbound mail failed because temporary failures lasted past its delivery "
            "horizon (OUTBOUND_GIVE_UP_AFTER_DAYS).",
        )
        gave_up.add_metric([], given_up)
        yield gave_up

        if smtp_configured():
            smtp_up = GaugeMetricFamily(
                "servicedesk_smtp_up", "1 when the SMTP server greeted this process's probe."
            )
            smtp_up.add_metric([], 1 if smtp_ready() else 0)
            yield smtp_up

        age = GaugeMetricFamily(
            "servicedesk_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbound mail (0 when none is pending).",
        )
        oldest = backlog["oldest"]
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield age


def render_metrics() -> bytes:
    """The Prometheus text exposition of this process (or all gunicorn workers) and the DB."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return generate_latest(REGISTRY) + generate_latest(database)


def _client_allowed(request) -> bool:
    allowed = [entry.strip() for entry in settings.METRICS_ALLOWED_IPS if entry.strip()]
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _token_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@require_GET
def metrics_view(request):
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
