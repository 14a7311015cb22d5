from django.apps import AppConfig


class MessagesConfig(AppConfig):
    name = "messages_app"
    verbose_name = "Messages"
