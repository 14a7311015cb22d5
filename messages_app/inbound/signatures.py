"""HMAC signatures of the inbound webhook: pure functions, no Django.

The sender signs the bytes `<timestamp>.<raw body>` with HMAC-SHA256 keyed by the
shared secret and sends `X-Servicedesk-Timestamp: <unix seconds>` and
`X-Servicedesk-Signature: sha256=<lowercase hex>`.
"""

import hashlib
import hmac
import re
import time

TIMESTAMP_HEADER = "X-Servicedesk-Timestamp"
SIGNATURE_HEADER = "X-Servicedesk-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300

# Whole seconds as API.md says; a fraction is tolerated (the header is signed verbatim).
_TIMESTAMP = re.compile(r"^[0-9]{1,15}(?:\.[0-9]{1,9})?$")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


def compute_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Servicedesk-Signature` value for a body sent at `timestamp`."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def verify_signature(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `signature` signs `timestamp.body` with `secret` and the timestamp is fresh."""
    if not secret or not timestamp or not signature:
        return False
    timestamp = timestamp.strip()
    if not _TIMESTAMP.match(timestamp):
        return False
    current = time.time() if now is None else now
    if abs(current - float(timestamp)) > tolerance:
        return False
    signature = signature.strip()
    # The prefix names the algorithm; a bare digest is read as SHA-256 too.
    provided = (
        signature[len(SIGNATURE_PREFIX) :]
        if signature.lower().startswith(SIGNATURE_PREFIX)
        else signature
    )
    if not _HEX_DIGEST.match(provided):
        return False
    expected = compute_signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(
        expected[len(SIGNATURE_PREFIX) :].encode("ascii"), provided.lower().encode("ascii")
    )
