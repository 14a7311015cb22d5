"""An SMTP server (aiosmtpd) in a thread on loopback that records every mail it accepts."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from testing.processes import LOOPBACK, free_port
from testing.waiting import wait_until


class RecordingHandler:
    """aiosmtpd handler that keeps every accepted mail; `*_reply` forces an answer."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"; None accepts.
        self.data_reply: str | None = None
        self.rcpt_reply: str | None = None
        # While `hold_data`, a mail's DATA waits for `release` (`data_held` says one does),
        # then is refused: a client stays in the middle of sending while the test needs.
        self.hold_data = False
        self.data_held = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold_data:
            self.data_held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Held by the test, not accepted"
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or envelope.content
        parsed = message_from_bytes(content, policy=default_policy)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPSink:
    """An aiosmtpd server in a thread on a fixed loopback port that can stop and start again."""

    def __init__(self, *, port: int | None = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    def start(self) -> SMTPSink:
        if self.controller is None:
            # A stopped controller's event loop is closed: each start needs a new one.
            self.controller = Controller(self.handler, hostname=self.host, port=self.port)
            self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """An outage of the mail server: stopped inside the block, started again after."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def find(self, predicate: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
        return [message for message in self.messages if predicate(message)]

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], *, count: int = 1, timeout: float = 30
    ) -> list[EmailMessage]:
        """Wait until at least `count` received mails match `predicate`; return them."""

        def found() -> list[EmailMessage]:
            matching = self.find(predicate)
            return matching if len(matching) >= count else []

        return wait_until(found, timeout=timeout, message="mail at the SMTP server")

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
