"""Gauges of outbound mail read from the database at each scrape: mail by delivery status,
the outbox backlog, mail given up on, and whether the SMTP server answers.

Registered with the exposition in `servicedesk.metrics` by `MessagesConfig.ready`.
"""

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from messages_app.models import DeliveryStatus, Direction, Message
from messages_app.outbound.delivery import GAVE_UP_PREFIX
from servicedesk.health import smtp_configured, smtp_ready


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A gauge without labels, holding one value."""
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


def _database_up(*, answered: bool) -> GaugeMetricFamily:
    return _gauge(
        "servicedesk_metrics_database_up",
        "1 when the database answered this scrape's queries.",
        1 if answered else 0,
    )


class OutboxCollector(Collector):
    """Gauges read from the database at scrape time: mail by delivery status, the backlog."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
            yield _database_up(answered=False)
            return
        yield _database_up(answered=True)

        outbound = GaugeMetricFamily(
            "servicedesk_outbound_messages",
            "Outbound mail by delivery status.",
            labels=["status"],
        )
        for status in DeliveryStatus.values:
            outbound.add_metric([status], by_status.get(status, 0))
        yield outbound

        backlog_gauges = [
            (
                "servicedesk_outbox_backlog",
                "Outbound mail not sent yet (pending).",
                backlog["pending"],
            ),
            (
                "servicedesk_outbox_due",
                "Pending outbound mail whose next attempt is due now.",
                backlog["due"],
            ),
            (
                "servicedesk_outbox_retrying",
                "Pending outbound mail whose last attempt failed temporarily (SMTP down, 4xx).",
                backlog["retrying"],
            ),
            (
                "servicedesk_outbound_given_up",
                "Outbound mail failed because temporary failures lasted past its delivery "
                "horizon (OUTBOUND_GIVE_UP_AFTER_DAYS).",
                given_up,
            ),
        ]
        for name, documentation, value in backlog_gauges:
            yield _gauge(name, documentation, value)
        if smtp_configured():
            yield _gauge(
                "servicedesk_smtp_up",
                "1 when the SMTP server greeted this process's probe.",
                1 if smtp_ready() else 0,
            )
        oldest = backlog["oldest"]
        yield _gauge(
            "servicedesk_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbound mail (0 when none is pending).",
            (now - oldest).total_seconds() if oldest else 0,
        )
