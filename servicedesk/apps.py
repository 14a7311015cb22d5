from django.apps import AppConfig


class ServicedeskConfig(AppConfig):
    name = "servicedesk"
    verbose_name = "Service desk"

    def ready(self):
        from servicedesk import checks  # noqa: F401  (registers the deployment checks)
