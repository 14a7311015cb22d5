#!/usr/bin/env python3
"""Peak memory of a gunicorn worker while it ingests one webhook batch near the cap.

Starts its own gunicorn (one sync worker) on a free loopback port over a fresh SQLite
database and attachment folder in a temporary directory, warms the worker up with a
small batch, resets its peak RSS (/proc/<pid>/clear_refs), posts one signed batch of
about 45 MiB (one mail with a large file and several smaller ones), and prints the
worker's peak RSS above its resting RSS, as bytes and as a multiple of the body size.

    .venv/bin/python bench/webhook_memory.py [--mib 45] [--big-mib 22]

Linux only (reads /proc). Takes about half a minute; run it on a quiet machine.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"  # noqa: S105 (a throwaway server of its own)
MIB = 1024 * 1024


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mail(*, n: int, file_bytes: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Bench Sender {n} <sender{n}@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = f"Scan number {n}"
    message["Message-ID"] = f"<bench-memory-{n}-{time.time_ns()}@example.com>"
    message.set_content("The scan is attached.")
    message.add_attachment(os.urandom(file_bytes), "image", "tiff", filename=f"scan-{n}.tiff")
    return bytes(message)


def batch(*, total_mib: float, big_mib: float) -> bytes:
    """A JSON batch of about `total_mib`: one mail with a `big_mib` file, then 2 MiB ones."""
    items = [{"raw": base64.b64encode(mail(n=0, file_bytes=int(big_mib * MIB))).decode()}]
    n = 1
    while True:
        size = sum(len(item["raw"]) for item in items)
        left = total_mib * MIB - size - 4096
        if left < 64 * 1024:
            break
        file_bytes = int(min(2 * MIB, left * 3 / 4 * 0.97))
        items.append({"raw": base64.b64encode(mail(n=n, file_bytes=file_bytes)).decode()})
        n += 1
    return json.dumps({"messages": items}).encode()


def post(port: int, body: bytes) -> tuple[int, bytes]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request(
        "POST",
        "/api/v1/inbound/emails/",
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Servicedesk-Timestamp": stamp,
            "X-Servicedesk-Signature": f"sha256={digest}",
        },
    )
    response = connection.getresponse()
    return response.status, response.read()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=45, help="Size of the batch (MiB).")
    parser.add_argument("--big-mib", type=float, default=22, help="The large file (MiB).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sd-memory-") as tmp:
        env = {
            **os.environ,
            # The embedded default's settings (SQLite, tasks in-process), for the web worker
            # too: wsgi.py would otherwise take the production settings.
            "DJANGO_SETTINGS_MODULE": "servicedesk.settings.local",
            "READ_DOT_ENV": "false",
            "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
            "REDIS_URL": "",
            "ATTACHMENTS_ROOT": f"{tmp}/attachments",
            "ATTACHMENTS_S3_BUCKET": "",
            "EMAIL_URL": "dummymail://",
            "INBOUND_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }
        python = sys.executable
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=REPO, check=True
        )
        port = free_port()
        gunicorn = Path(python).parent / "gunicorn"
        server = subprocess.Popen(
            [
                str(gunicorn),
                "servicedesk.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "300",
            ],
            env=env,
            cwd=REPO,
        )
        try:
            for _ in range(300):
                try:
                    status, _ = post(port, b'{"messages": []}')
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("gunicorn did not answer")
            worker = worker_pid(server.pid)
            small = json.dumps(
                {"messages": [{"raw": base64.b64encode(mail(n=99, file_bytes=1000)).decode()}]}
            ).encode()
            status, answer = post(port, small)
            assert status == 200, answer
            body = batch(total_mib=args.mib, big_mib=args.big_mib)
            resting = status_kib(worker, "VmRSS") * 1024
            Path(f"/proc/{worker}/clear_refs").write_text("5")
            started = time.perf_counter()
            status, answer = post(port, body)
            seconds = time.perf_counter() - started
            peak = status_kib(worker, "VmHWM") * 1024
            assert status == 200, answer[:500]
            summary = json.loads(answer)["summary"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    items = json.loads(body)["messages"]
    print(f"batch: {len(body) / MIB:.1f} MiB, {len(items)} mails, outcomes {summary}")
    print(f"worker resting RSS: {resting / MIB:.0f} MiB; answered in {seconds:.1f} s")
    print(
        f"peak RSS above resting: {(peak - resting) / MIB:.0f} MiB "
        f"= {(peak - resting) / len(body):.2f} x the body"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
