"""`runserver` that repeats where the admin is once it serves (after Django's banner)."""

from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand

from servicedesk.management.hints import admin_hint


class Command(RunserverCommand):
    def on_bind(self, server_port):
        super().on_bind(server_port)
        # `addr` and `_raw_ipv6` are set by runserver's handle(); the stubs do not know them.
        addr: str = self.addr  # type: ignore[attr-defined]
        host = f"[{addr}]" if self._raw_ipv6 else addr  # type: ignore[attr-defined]
        host = "127.0.0.1" if host in ("0", "0.0.0.0") else host  # noqa: S104 (a link, not a bind)
        self.stdout.write(self.style.SUCCESS(admin_hint(f"{self.protocol}://{host}:{server_port}")))
