"""Helpers shared by the tests: no fixtures and no tests, only functions and classes.

Fixtures live in the `conftest.py` files; what they and the tests build with lives here.
It is a top-level package, beside `conftest.py` and `e2e/`, because its helpers import
the apps (the webhook's signature, the factories' users) while `servicedesk` is the
bottom layer that imports no app; and pytest collects only `test_*.py` files, so nothing
here is ever run as a test.

- `environment`: skip (or, under CI, fail) a test whose PostgreSQL, Redis or programs
  are absent.
- `waiting`: poll an observable outcome until a deadline instead of sleeping.
- `processes`: real processes on loopback (gunicorn, Celery, Redis, nginx, moto's S3).
- `smtp`: an SMTP server in a thread that records what it accepts.
- `databases`: a fresh PostgreSQL database per system test; the SQL migrations add.
- `http`: one HTTP request with urllib, 4xx and 5xx returned.
- `mail`: mail as bytes and signed webhook posts (through the test client or HTTP).
- `clients`: DRF test clients with a token.
- `browser`: Debian's Chromium, headless.
"""
