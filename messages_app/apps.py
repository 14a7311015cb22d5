from django.apps import AppConfig


class MessagesConfig(AppConfig):
    name = "messages_app"
    verbose_name = "Messages"

    def ready(self) -> None:
        # The outbox's gauges join /metrics; the project package imports no app.
        from messages_app.outbound.metrics import OutboxCollector
        from servicedesk.metrics import register_scrape_collector

        register_scrape_collector(OutboxCollector())
