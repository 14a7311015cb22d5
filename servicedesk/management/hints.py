"""What a developer's terminal is told about where the service's parts are (by
`runserver` and `bootstrap_admin`). Asks Django's user model only, so the project
package stays free of the apps."""

from django.contrib.auth import get_user_model
from django.db import DatabaseError


def admin_hint(base_url: str) -> str:
    """Where the admin and the docs are, and how to get an admin user if there is none."""
    base = base_url.rstrip("/")
    lines = []
    try:
        has_admin = get_user_model().objects.filter(is_superuser=True, is_active=True).exists()
    except DatabaseError:  # not migrated yet: the links are still right
        has_admin = True
    if not has_admin:
        lines += [
            "No admin user yet. Create one with:",
            "    .venv/bin/python manage.py createsuperuser",
            "or set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
            "(in the environment or .env) and run make run again.",
        ]
    lines.append(f"Admin: {base}/admin/   API docs: {base}/api/docs/   Start page: {base}/")
    return "\n".join(lines)
