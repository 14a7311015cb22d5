"""The request history: each service records what it changed, in its own transaction."""

from dataclasses import dataclass, field
from typing import Any

from operators_app.models import Operator
from requests_app.models import ActorType, EventType, RequestEvent


@dataclass(frozen=True)
class EventRecord:
    """One event to write: which request, what happened, who did it and the details."""

    request_id: int
    type: EventType
    operator: Operator | None = None
    actor_type: ActorType | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _actor_type(record: EventRecord) -> ActorType:
    if record.actor_type:
        return record.actor_type
    return ActorType.OPERATOR if record.operator is not None else ActorType.SYSTEM


def record_events(records: list[EventRecord]) -> None:
    """Write events in one insert, in the caller's transaction (no-op for none)."""
    if not records:
        return
    RequestEvent.objects.bulk_create(
        [
            RequestEvent(
                request_id=record.request_id,
                type=record.type,
                actor_type=_actor_type(record),
                operator=record.operator,
                data=record.data,
            )
            for record in records
        ]
    )


def record_event(
    *,
    request_id: int,
    type: EventType,
    operator: Operator | None = None,
    actor_type: ActorType | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Write one event in the caller's transaction; the actor is the operator, else the system."""
    record_events([EventRecord(request_id, type, operator, actor_type, data or {})])
