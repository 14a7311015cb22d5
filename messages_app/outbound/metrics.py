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


class OutboxCollector(Collector):
    """Gauges read from the database at scrape time: mail by delivery status, the backlog."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
