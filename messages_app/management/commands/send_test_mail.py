"""Post mail to a running service's webhook, signed as the Gmail script signs it."""

import base64
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from messages_app.inbound.signatures import compute_signature


def test_mail(*, sender: str, subject: str, body: str) -> bytes:
    """A small RFC 822 message from `sender` to the support address, with a fresh Message-ID."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = f"{settings.SUPPORT_NAME} <{settings.SUPPORT_EMAIL}>"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain="test-mail.invalid")
    mail.set_content(body)
    return bytes(mail)


class Command(BaseCommand):
    help = (
        "Post mail files (.eml, RFC 822), or a generated test mail, to a running service's "
        "inbound webhook, signed with INBOUND_WEBHOOK_SECRET, and print each mail's outcome."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files",
            nargs="*",
            help="Mail files to post (`-` reads one from standard input). "
            "None: a generated test mail.",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="The running service (default: http://127.0.0.1:8000, where `make run` serves).",
        )
        parser.add_argument(
            "--secret",
            default=None,
            help="The webhook secret (default: INBOUND_WEBHOOK_SECRET, from the environment "
            "or .env, as the service reads it).",
        )
        parser.add_argument(
            "--from",
            dest="sender",
            default="Jane Doe <jane@example.com>",
            help="Sender of the generated mail.",
        )
        parser.add_argument(
            "--subject", default="The printer jams on every page", help="Its subject."
        )
        parser.add_argument(
            "--body",
            default="Hello,\n\nthe printer on the second floor jams on every page.\n\nJane\n",
            help="Its plain text.",
        )
        parser.add_argument("--timeout", type=float, default=30, help="Seconds to wait.")

    def handle(self, *args, **options):
        secret = (
            options["secret"] if options["secret"] is not None else settings.INBOUND_WEBHOOK_SECRET
        )
        if not secret:
            raise CommandError(
                "No webhook secret: set INBOUND_WEBHOOK_SECRET (in .env or the environment) to "
                "the value the service runs with, or pass --secret. Generate one with: "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        mails = self._mails(options)
        body = json.dumps(
            {"messages": [{"raw": base64.b64encode(raw).decode("ascii")} for _, raw in mails]}
        ).encode()
        base = options["url"].rstrip("/")
        url = base + reverse("inbound-emails")
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own service)
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Servicedesk-Timestamp": timestamp,
                "X-Servicedesk-Signature": compute_signature(
                    secret=secret, timestamp=timestamp, body=body
                ),
            },
        )
        status, answer = self._post(request, options["timeout"])
        self.stdout.write(f"POST {url}: {status}")
        if status != 200 or not isinstance(answer, dict):
            detail = answer.get("detail") if isinstance(answer, dict) else None
            raise CommandError(f"The service answered {status}: {detail or answer}")
        for (name, _), result in zip(mails, answer["results"], strict=True):
            self.stdout.write(f"  {name}: {self._describe(result, base)}")

    def _mails(self, options) -> list[tuple[str, bytes]]:
        if not options["files"]:
            raw = test_mail(
                sender=options["sender"], subject=options["subject"], body=options["body"]
            )
            return [(f'test mail "{options["subject"]}" from {options["sender"]}', raw)]
        mails = []
        for name in options["files"]:
            if name == "-":
                mails.append(("standard input", sys.stdin.buffer.read()))
                continue
            try:
                mails.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CommandError(f"Cannot read {name}: {exc.strerror}") from None
        return mails

    @staticmethod
    def _post(request: urllib.request.Request, timeout: float) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text[:500]
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(
                f"Could not reach {request.full_url}: {reason}. Is the service running (make run)?"
            ) from None

    @staticmethod
    def _describe(result: dict, base: str) -> str:
        outcome = result["outcome"]
        if outcome in ("created", "appended", "duplicate"):
            request_id = result["request_id"]
            where = f"{base}/admin/requests_app/supportrequest/{request_id}/change/"
            text = {
                "created": f"created request #{request_id}",
                "appended": f"appended to request #{request_id}",
                "duplicate": f"duplicate: already stored in request #{request_id}",
            }[outcome]
            return f"{text} (message {result['message_id']}); see {where}"
        if outcome == "ignored":
            return "ignored (mail the service sent itself, or a bounce)"
        return f"rejected: {json.dumps(result.get('errors', {}), ensure_ascii=False)}"
