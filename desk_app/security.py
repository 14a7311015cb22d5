"""Who may use the console (the API's own rule) and the Content-Security-Policy of its pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.template.response import TemplateResponse

from operators_app.selectors import get_active_operator

# No inline script anywhere: every script is a static file of this app. Inline style is
# allowed for one reason: a mail's HTML, shown in a sandboxed `srcdoc` frame that inherits
# this policy, is laid out with style attributes (the console's own pages use none).
DESK_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The document inside a mail's sandboxed iframe: its own images inline only, no fetches.
MAIL_FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def with_desk_csp(view):
    """Give the view's answers the console's CSP, unless one is already set (django-csp's
    middleware, when installed, leaves a header it finds alone)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", DESK_CSP)
        return response

    return wrapped


def operator_required(view):
    """A logged-in user with an active operator profile (the API's IsActiveOperator): others
    go to the login page, or get 403 without a profile. The operator is `request.operator`."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        operator = get_active_operator(user=request.user)
        if operator is None:
            return TemplateResponse(request, "desk/no_operator.html", status=403)
        request.operator = operator
        return view(request, *args, **kwargs)

    return with_desk_csp(login_required(checked, login_url="desk:login"))
