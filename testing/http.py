"""HTTP against a service on loopback with urllib: what a client outside the process sees."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class HTTPResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> HTTPResponse:
    """One HTTP request with urllib; 4xx and 5xx are returned, not raised."""
    all_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HTTPResponse(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return HTTPResponse(error.code, error.read(), dict(error.headers))


def obtain_token(base_url: str, username: str, password: str) -> str:
    """An API token from `POST /api/v1/auth/token/` (the login must succeed)."""
    response = http(
        "POST",
        f"{base_url}/api/v1/auth/token/",
        json_body={"username": username, "password": password},
    )
    assert response.status == 200, response.body
    token: str = response.json()["token"]
    return token


def announce_body(base_url: str, path: str, content_length: int) -> tuple[int, str, dict[str, str]]:
    """Send only the headers of a POST with a body of `content_length` bytes and read the
    answer a proxy gives to them: its status, body and headers (names in lower case)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    status_line, *header_lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), body, {k.lower(): v for k, v in headers.items()}
