"""Failed-login limits on the token route and the admin login, counted by django-axes.

API.md: past `LOGIN_FAILURE_LIMIT` failures in `LOGIN_FAILURE_WINDOW_SECONDS`, per client
address and per username, the next attempts answer 429 with `Retry-After` (the admin
shows its login page with that status). axes counts in the shared cache (Redis in
production), so every worker and host sees one count. A locked-out attempt stops at
axes' backend, before any password is hashed.
"""

import logging

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from redis import RedisError

logger = logging.getLogger(__name__)

LOCKED_OUT_DETAIL = "Too many failed logins. Expected available in {seconds} seconds."


def client_ip(request: HttpRequest) -> str:
    """The client's address: the peer's, or the one `NUM_PROXIES` trusted proxies put in
    X-Forwarded-For (each appends the address it received from; the client's own header
    is never believed)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]


class LoginAttemptHandler(AxesCacheHandler):
    """axes' cache handler that answers the failure reaching the limit normally (the next
    attempt is the first refused) and never turns a cache outage into a 500.

    Refusing every login while Redis restarts would lock all operators out. django-redis
    reads an unreachable cache as empty and logs it (IGNORE_EXCEPTIONS), so logins go
    through uncounted until it returns.
    """

    def __init__(self):
        pass  # the cache is looked up on each use: tests and reloads swap it

    @property
    def cache(self):
        return get_cache()

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        refused = bool(getattr(request, "axes_locked_out", False))
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except (TypeError, RedisError):
            # Where reading the outage as empty is not enough: axes compares the None that
            # `incr` answers with its limit, and django-redis 7 lets `touch` raise.
            logger.warning("Login limit cache unavailable; failure not counted", exc_info=True)
        if request is not None and not refused:
            # This attempt was checked against the password: it gets the ordinary answer,
            # the next one is refused.
            request.axes_locked_out = False


def locked_out_response(request: HttpRequest, original_response=None, credentials=None):
    """429 with `Retry-After`: JSON under /api/, the admin's login page elsewhere."""
    seconds = settings.LOGIN_FAILURE_WINDOW_SECONDS
    detail = LOCKED_OUT_DETAIL.format(seconds=seconds)
    response: HttpResponse
    context = (
        original_response.context_data if isinstance(original_response, TemplateResponse) else None
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail, "code": "throttled"}, status=429)
    elif isinstance(original_response, TemplateResponse) and context and "form" in context:
        # The login page the view rendered, its error replaced by the reason.
        form = context["form"]
        form.errors[NON_FIELD_ERRORS] = form.error_class([detail])
        response = original_response
        response.content = response.rendered_content
        response.status_code = 429
    else:
        response = HttpResponse(detail, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
