from django.apps import AppConfig


class DeskAppConfig(AppConfig):
    name = "desk_app"
    verbose_name = "Operator console"
