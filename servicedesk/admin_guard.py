"""Admin change lists refuse filter values they cannot run, instead of answering 500.

A NUL character (PostgreSQL refuses it in a string), a year outside 1-9999 (in a
`__year` lookup or the date hierarchy's next month or year) fail only when the list's
query runs or its page renders. Django's own answer to a bad filter is a redirect to
the unfiltered list with `?e=1` ("invalid lookup"); this gives that answer to these too,
for every model's list, Django's own included.
"""

import logging

from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DataError
from django.http import HttpResponseRedirect
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

_BAD_FILTER_ERRORS = (ValueError, OverflowError, DataError)


def _is_changelist(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.url_name and match.url_name.endswith("_changelist"))


def _unfiltered(request) -> HttpResponseRedirect | None:
    """The redirect to the unfiltered list; None when the list is unfiltered already."""
    if set(request.GET) <= {ERROR_FLAG}:
        return None
    return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")


class AdminChangeListGuardMiddleware(MiddlewareMixin):
    """Bad filter values on an admin change list: back to the list with `?e=1`."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "GET" or not _is_changelist(request):
            return None
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return _unfiltered(request)
        return None

    def process_exception(self, request, exception):
        if request.method != "GET" or not _is_changelist(request):
            return None
        if not isinstance(exception, _BAD_FILTER_ERRORS):
            return None
        logger.warning("Admin list %s: filter refused (%r)", request.path, exception)
        return _unfiltered(request)
