"""The Celery app. Redis is the broker when REDIS_URL is set; otherwise tasks run eagerly.

Like manage.py (and cookiecutter-django's celery_app), it defaults to the local settings:
the laptop setup runs no worker at all, its tasks run in-process. A deployed worker and
beat get DJANGO_SETTINGS_MODULE=servicedesk.settings.production from the image and
docker/entrypoint.sh.
"""

import contextvars
import logging.config
import os

from celery import Celery, beat, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.local")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Infrastructure only: the request id travels with the task so the worker's log lines
# for it carry the id of the HTTP request that queued it.
@signals.before_task_publish.connect
def _add_request_id_header(headers=None, **kwargs):
    from servicedesk.logging import TASK_HEADER, current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, contextvars.Token[str | None]] = {}


@signals.task_prerun.connect
def _bind_request_id(task_id=None, task=None, **kwargs):
    from servicedesk.logging import TASK_HEADER, clean_request_id, request_id_var

    request_id = clean_request_id(getattr(task.request, TASK_HEADER, None)) if task else None
    if request_id and task_id:
        _task_tokens[task_id] = request_id_var.set(request_id)


@signals.task_postrun.connect
def _unbind_request_id(task_id=None, **kwargs):
    from servicedesk.logging import request_id_var

    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    """The worker and beat log like the web tier (Django's LOGGING), not Celery's own way."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


class PersistentScheduler(beat.PersistentScheduler):
    """Celery's file-backed beat scheduler, creating the schedule file's directory (var/ by
    default, which a fresh checkout lacks) before it opens the file."""

    def setup_schedule(self):
        # Set by PersistentScheduler.__init__; celery-types does not declare it.
        filename: str = self.schedule_filename  # type: ignore[attr-defined]
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        super().setup_schedule()
