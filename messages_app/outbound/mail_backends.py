"""The embedded default's outgoing mail: one `.eml` file per mail under `var/mail/`."""

import datetime
import os
import uuid
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends import filebased


class EmlFileBackend(filebased.EmailBackend):
    """Django's file backend, but each mail in its own `.eml` file that a mail client opens
    (Django's appends every mail of a connection to one `.log` file, with separators)."""

    def open(self) -> bool:
        # Each mail opens its own file; no stream (nor Django's empty `.log`) per connection.
        return False

    def close(self) -> None:
        pass

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            # UTC in the name, so the files sort in the order they were sent.
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
            path = os.path.join(self.file_path, f"{stamp}-{uuid.uuid4().hex[:12]}.eml")
            with open(path, "xb") as stream:
                stream.write(message.message().as_bytes())
            sent += 1
        return sent
