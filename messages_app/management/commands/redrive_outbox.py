"""Send (or queue) every pending outbound mail that is due, once.

Beat runs the same re-drive every OUTBOUND_REDRIVE_SECONDS. Without a broker (the
embedded default, no beat) this command is how mail held back by an SMTP outage goes
out: run it by hand or from cron.
"""

from django.core.management.base import BaseCommand

from messages_app.tasks import redrive_outbox_task


class Command(BaseCommand):
    help = "Send (without REDIS_URL) or queue (with it) every pending outbound mail that is due."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="At most this many messages.")

    def handle(self, *args, limit: int, **options):
        queued = redrive_outbox_task(limit=limit)
        self.stdout.write(f"Re-drove {queued} due message(s).")
