"""Throttles that count in the shared cache and never turn a cache outage into a 500."""

import logging

from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class ResilientScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle; when the cache (Redis) is unreachable it lets the request through.

    Refusing every login while Redis restarts would lock all operators out; the outage
    is logged and counting resumes when the cache returns.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning(
                "Throttle cache unavailable; %s not throttled", self.scope, exc_info=True
            )
            return True
