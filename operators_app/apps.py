from django.apps import AppConfig


class OperatorsConfig(AppConfig):
    name = "operators_app"
    verbose_name = "Operators"
