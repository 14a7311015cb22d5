from django.apps import AppConfig


class ServicedeskConfig(AppConfig):
    name = "servicedesk"
    verbose_name = "Service desk"

    def ready(self):
        # The deployment checks register themselves; the Celery app must exist before any
        # task is queued (`shared_task` binds to the current app).
        from servicedesk import casefold, celery, checks  # noqa: F401

        # SQLite connections get a case folding that knows every alphabet (search).
        casefold.connect()
