"""Checks a serving process makes before it takes its first request."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_collected_static_files() -> None:
    """With DEBUG off, refuse to serve before `collectstatic`: the admin and the API docs
    would answer 500 on every page that links a static file."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    if settings.DEBUG:
        return
    manifest_name = getattr(staticfiles_storage, "manifest_name", None)
    if manifest_name is None:  # a storage without a manifest serves files as they are
        return
    if not staticfiles_storage.manifest_storage.exists(manifest_name):  # type: ignore[attr-defined]
        raise ImproperlyConfigured(
            f"DEBUG is off and the static files are not collected in STATIC_ROOT "
            f"({settings.STATIC_ROOT}): run `python manage.py collectstatic --noinput` "
            "before starting the server (the Docker image does it when it is built)."
        )
