"""The front page: what the service is and where its parts are."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def landing(request):
    """A small HTML page with links to the console, the admin, the API docs and health."""
    return render(
        request,
        "servicedesk/landing.html",
        {
            "support_name": settings.SUPPORT_NAME,
            "support_email": settings.SUPPORT_EMAIL,
            "admin_url": f"/{settings.ADMIN_URL}",
        },
    )
