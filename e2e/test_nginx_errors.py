"""Debian's nginx running the rendered config: the API gets nginx's own errors as JSON.

An upstream stand-in on loopback answers slowly, drops the connection, or answers its own
503; nginx must turn its own 413, 502 and 504 into the contract's `{"detail", "code"}`
and pass the app's answers through untouched. The TLS example must load in this nginx
(1.22, which has no `http2 on;`).
"""

import json
import re
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testing.environment import missing, require_binaries
from testing.http import announce_body, http
from testing.processes import (
    REPO_ROOT,
    ManagedProcess,
    check_nginx_config,
    free_port,
    nginx,
    nginx_binary,
)

pytestmark = pytest.mark.e2e

APP_503 = {"detail": "The database is not answering.", "code": "database_unavailable"}


def _require_nginx() -> None:
    if nginx_binary() is None:
        missing("needs nginx installed")


def _configured(tmp: Path, *, upstream_port: int) -> ManagedProcess:
    """nginx on the rendered config (checked by `nginx -t`), not started; proxy timeouts
    cut to a second so that a 504 comes quickly."""
    static_root = tmp / "static"
    static_root.mkdir()
    server = nginx(tmp, upstream_port=upstream_port, static_root=static_root)
    config = server.cwd / "nginx.conf"
    text = config.read_text()
    assert text.count("proxy_read_timeout 60s;") == 1
    config.write_text(text.replace("proxy_read_timeout 60s;", "proxy_read_timeout 1s;"))
    return server


class _Upstream(BaseHTTPRequestHandler):
    """gunicorn's stand-in: slow, silent or answering a 503 of its own."""

    # A slow answer waits for this (set when the test ends), past nginx's 1 s timeout.
    release = threading.Event()

    def do_GET(self):
        if self.path.startswith("/api/v1/slow/"):
            self.release.wait(timeout=30)
        elif "/drop/" in self.path:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        body = json.dumps(APP_503).encode()
        try:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # nginx gave up on a slow answer

    def do_POST(self):
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(tmp_path, processes):
    _require_nginx()
    _Upstream.release = threading.Event()
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    upstream.daemon_threads = True
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    server = processes.add(_configured(tmp_path, upstream_port=upstream.server_address[1]))
    check_nginx_config(server.cwd / "nginx.conf")
    server.start(timeout=30)
    yield f"http://127.0.0.1:{server.port}"
    _Upstream.release.set()
    upstream.shutdown()
    upstream.server_close()


def assert_json_error(status: int, body: str, headers: dict, expected: int, code: str) -> None:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert set(payload) == {"detail", "code"}
    assert payload["code"] == code
    assert payload["detail"]


@pytest.mark.parametrize(
    ("path", "size"),
    [("/api/v1/auth/token/", 2 * 1024 * 1024), ("/api/v1/inbound/emails/", 50 * 1024 * 1024)],
)
def test_a_body_over_nginx_limit_on_the_api_is_a_json_413(proxy, path, size):
    status, body, headers = announce_body(proxy, path, size)

    assert_json_error(status, body, headers, 413, "payload_too_large")
    assert headers["x-content-type-options"] == "nosniff"


def test_a_webhook_body_under_the_49_mib_limit_reaches_the_app(proxy):
    response = http(
        "POST",
        f"{proxy}/api/v1/inbound/emails/",
        data=b" " * (48 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )

    # The stand-in app answers 503 to everything that reaches it.
    assert response.status == 503
    assert response.json() == APP_503


def test_an_upstream_that_drops_the_connection_is_a_json_502(proxy):
    response = http("GET", f"{proxy}/api/v1/drop/", timeout=30)

    assert_json_error(
        response.status, response.body.decode(), _lower(response.headers), 502, "bad_gateway"
    )


def test_an_upstream_too_slow_to_answer_is_a_json_504(proxy):
    response = http("GET", f"{proxy}/api/v1/slow/", timeout=30)

    assert_json_error(
        response.status, response.body.decode(), _lower(response.headers), 504, "gateway_timeout"
    )


def test_the_apps_own_errors_pass_through_untouched(proxy):
    response = http("GET", f"{proxy}/api/v1/requests/", timeout=30)

    assert response.status == 503
    assert response.json() == APP_503


def test_pages_outside_the_api_keep_nginx_html_errors(proxy):
    response = http("GET", f"{proxy}/admin/drop/", timeout=30)

    assert response.status == 502
    assert _lower(response.headers)["content-type"].startswith("text/html")


def test_the_tls_example_loads_in_this_nginx(tmp_path):
    _require_nginx()
    require_binaries("openssl")
    prefix = _configured(tmp_path, upstream_port=free_port()).cwd
    snippets = prefix / "servicedesk.d"
    certs = prefix / "certs"
    snippets.mkdir()
    certs.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=helpdesk.example.com",
            "-days",
            "1",
            "-keyout",
            str(certs / "privkey.pem"),
            "-out",
            str(certs / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    example = (REPO_ROOT / "nginx" / "servicedesk.d" / "tls.conf.example").read_text()
    # The same file, at this test's paths instead of the container's.
    (snippets / "tls.conf").write_text(
        example.replace("/etc/nginx/certs/", f"{certs}/").replace(
            "listen 443 ", f"listen 127.0.0.1:{free_port()} "
        )
    )
    config = prefix / "nginx.conf"
    text = config.read_text()
    assert "include /etc/nginx/servicedesk.d/*.conf;" in text
    config.write_text(
        text.replace("include /etc/nginx/servicedesk.d/*.conf;", f"include {snippets}/*.conf;")
    )

    check_nginx_config(config)

    assert not re.search(r"^\s*http2\s+on", example, re.MULTILINE)
    assert "--env-file .env restart nginx" in example


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}
