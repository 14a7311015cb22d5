"""Helpers shared by the tests: no fixtures and no tests, only functions and classes.

Fixtures live in the `conftest.py` files; what they and the tests build with lives here.
It is a top-level package, beside `conftest.py` and `e2e/`, and not `servicedesk.testing`:
it is no part of the service (nothing the service runs imports it), it knows every app
(it adds the apps' migration SQL, reads their mail fixtures, speaks their API), which
`servicedesk`, the bottom layer, must not, and it sits outside the app packages whose
layers import-linter checks. pytest collects only `test_*.py` files, so nothing here is
ever run as a test.

- `environment`: skip (or, under CI, fail) a test whose PostgreSQL, Redis or programs
  are absent.
- `waiting`: poll an observable outcome until a deadline instead of sleeping.
- `processes`: real processes on loopback (gunicorn, Celery, Redis, nginx, moto's S3).
- `smtp`: an SMTP server in a thread that records what it accepts.
- `databases`: a fresh PostgreSQL database per system test; the SQL migrations add.
- `http`: one HTTP request with urllib, 4xx and 5xx returned; an API token.
- `mail`: mail as bytes and signed webhook posts (through the test client or HTTP).
- `clients`: DRF test clients with a token.
- `stacks`: the service on loopback (database, gunicorn, Redis, Celery) for system tests.
- `browser`: Debian's Chromium, headless.
"""
