"""Debian's Chromium for the browser tests, headless, reaching nothing outside the machine."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing that reaches outside the machine."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
