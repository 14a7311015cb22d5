"""Delete stored files no row names: what a crash or a rolled-back batch left behind.

Files younger than `--min-age` minutes are left alone: mail being stored right now
writes its files before its rows commit.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from messages_app.attachments import (
    ATTACHMENTS_PREFIX,
    RAW_PREFIX,
    attachment_storage,
    stored_keys,
    unused_keys,
)


class Command(BaseCommand):
    help = "Delete stored attachment and raw-mail files that no message uses any more."

    def add_arguments(self, parser):
        parser.add_argument(
            "--min-age",
            type=int,
            default=60,
            metavar="MINUTES",
            help="Leave files younger than this alone (default 60).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list what would go.")

    def handle(self, *args, min_age: int, dry_run: bool, **options):
        storage = attachment_storage()
        cutoff = timezone.now() - timedelta(minutes=min_age)
        found = deleted = 0
        batch: list[str] = []

        def sweep(keys: list[str]) -> int:
            gone = 0
            for key in sorted(unused_keys(keys)):
                if min_age and storage.get_modified_time(key) > cutoff:
                    continue
                self.stdout.write(f"{'would delete' if dry_run else 'deleted'} {key}")
                if not dry_run:
                    storage.delete(key)
                gone += 1
            return gone

        for key in stored_keys(ATTACHMENTS_PREFIX, RAW_PREFIX):
            found += 1
            batch.append(key)
            if len(batch) >= 500:
                deleted += sweep(batch)
                batch = []
        deleted += sweep(batch)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"Swept {found} stored file(s): {verb} {deleted} unused.")
