"""Parse stored raw mail again after a parser upgrade: bodies, replies, HTML, attachments.

Routing, ids and outcomes never change; a second run over the same mail changes nothing.
"""

import argparse
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import get_current_timezone, make_aware
from tqdm import tqdm

from messages_app.inbound.reparse import reparse_candidates, reparse_message


def _since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise argparse.ArgumentTypeError(f"not a date or time: {value!r}")
        moment = datetime.combine(day, time.min)
    if moment.tzinfo is None:
        moment = make_aware(moment, get_current_timezone())
    return moment


class Command(BaseCommand):
    help = "Re-parse the stored raw mail of inbound messages (bodies, replies, HTML, files)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=_since, help="Only mail received from this date or time on (ISO 8601)."
        )
        parser.add_argument(
            "--request",
            type=int,
            action="append",
            dest="request_ids",
            metavar="ID",
            help="Only the mail of this request; repeat for several.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, since=None, request_ids=None, no_progress=False, **options):
        ids = list(
            reparse_candidates(since=since, request_ids=request_ids).values_list("pk", flat=True)
        )
        changed = failed = 0
        for message_id in tqdm(
            ids, desc="Re-parsing", unit="mail", disable=no_progress, file=self.stderr
        ):
            try:
                changed += reparse_message(message_id=message_id)
            except Exception as exc:
                failed += 1
                self.stderr.write(f"Message {message_id}: {type(exc).__name__}: {exc}")
        self.stdout.write(
            f"Re-parsed {len(ids)} message(s): {changed} changed, "
            f"{len(ids) - changed - failed} unchanged, {failed} failed."
        )
        if failed:
            raise CommandError(f"{failed} message(s) could not be re-parsed.")
