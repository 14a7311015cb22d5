"""Liveness and readiness probes.

Readiness asks what a request needs: the database, and the Celery broker when one is
configured. SMTP is never checked: mail waits in the outbox while it is down.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# A probe must answer well within the orchestrator's timeout even when Redis hangs.
BROKER_TIMEOUT_SECONDS = 2


def _first_line(exc: Exception) -> str:
    # Probes run every few seconds: one line per failure, not a traceback.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def database_ready() -> bool:
    """True when the default database runs a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        # Django drops the broken connection when the request ends; the next probe reconnects.
        logger.warning("Readiness: the database does not answer: %s", _first_line(exc))
        return False
    return True


def broker_ready() -> bool:
    """True when the Redis broker answers PING."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        logger.warning("Readiness: the broker does not answer: %s", _first_line(exc))
        return False
    finally:
        client.close()


@require_GET
def healthz(request):
    """200 while the process runs."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """200 when the database (and the broker, when configured) answers; 503 naming what failed."""
    checks = {"database": database_ready}
    if settings.REDIS_URL:
        checks["broker"] = broker_ready
    results = {name: "ok" if check() else "unavailable" for name, check in checks.items()}
    failed = [name for name, result in results.items() if result != "ok"]
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": results}, status=503
        )
    return JsonResponse({"status": "ok", "checks": results})
