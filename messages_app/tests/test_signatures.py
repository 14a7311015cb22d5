import hashlib
import hmac

import pytest

from messages_app.inbound.signatures import compute_signature, verify_signature

SECRET = "s3cret-webhook-key"
BODY = b'{"messages": [{"user_email": "jane@example.com"}]}'
NOW = 1_800_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body_in_lowercase_hex():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(secret=SECRET, timestamp=str(NOW), body=BODY) == f"sha256={expected}"


def test_verify_accepts_a_fresh_correct_signature():
    signature = compute_signature(secret=SECRET, timestamp=str(NOW), body=BODY)
    assert verify_signature(
        secret=SECRET, timestamp=str(NOW), signature=signature, body=BODY, now=NOW
    )


def test_verify_accepts_uppercase_hex():
    signature = compute_signature(secret=SECRET, timestamp=str(NOW), body=BODY)
    upper = "sha256=" + signature.removeprefix("sha256=").upper()
    assert verify_signature(secret=SECRET, timestamp=str(NOW), signature=upper, body=BODY, now=NOW)


@pytest.mark.parametrize("skew", [-300, 300, -1, 0, 299])
def test_verify_accepts_timestamps_within_the_window(skew):
    timestamp = str(NOW + skew)
    signature = compute_signature(secret=SECRET, timestamp=timestamp, body=BODY)
    assert verify_signature(
        secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=NOW
    )


@pytest.mark.parametrize("skew", [-301, 301, -86400, 10**9])
def test_verify_refuses_timestamps_outside_the_window(skew):
    timestamp = str(NOW + skew)
    signature = compute_signature(secret=SECRET, timestamp=timestamp, body=BODY)
    assert not verify_signature(
        secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=NOW
    )


def test_verify_refuses_a_changed_body():
    signature = compute_signature(secret=SECRET, timestamp=str(NOW), body=BODY)
    assert not verify_signature(
        secret=SECRET, timestamp=str(NOW), signature=signature, body=BODY + b" ", now=NOW
    )


def test_verify_refuses_another_secret():
    signature = compute_signature(secret="other", timestamp=str(NOW), body=BODY)
    assert not verify_signature(
        secret=SECRET, timestamp=str(NOW), signature=signature, body=BODY, now=NOW
    )


def test_verify_refuses_a_signature_made_for_another_timestamp():
    signature = compute_signature(secret=SECRET, timestamp=str(NOW - 10), body=BODY)
    assert not verify_signature(
        secret=SECRET, timestamp=str(NOW), signature=signature, body=BODY, now=NOW
    )


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, "sha256=" + "0" * 64),
        (str(NOW), None),
        ("", "sha256=" + "0" * 64),
        ("1.5e9", "sha256=" + "0" * 64),
        (" ", "sha256=" + "0" * 64),
        ("-1800000000", "sha256=" + "0" * 64),
        ("soon", "sha256=" + "0" * 64),
        (str(NOW), "0" * 64),
        (str(NOW), "sha1=" + "0" * 40),
        (str(NOW), "sha256=" + "z" * 64),
        (str(NOW), "sha256=" + "0" * 63),
        (str(NOW), "sha256="),
    ],
)
def test_verify_refuses_missing_or_malformed_headers(timestamp, signature):
    assert not verify_signature(
        secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=NOW
    )


def test_verify_tolerates_a_fractional_timestamp_and_a_bare_digest():
    timestamp = f"{NOW}.25"
    signature = compute_signature(secret=SECRET, timestamp=timestamp, body=BODY)
    assert verify_signature(
        secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=NOW
    )
    bare = signature.removeprefix("sha256=")
    assert verify_signature(secret=SECRET, timestamp=timestamp, signature=bare, body=BODY, now=NOW)


def test_verify_refuses_everything_without_a_secret():
    signature = compute_signature(secret="", timestamp=str(NOW), body=BODY)
    assert not verify_signature(secret="", timestamp=str(NOW), signature=signature, body=BODY)


def test_verify_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("messages_app.inbound.signatures.hmac.compare_digest", spy)
    signature = compute_signature(secret=SECRET, timestamp=str(NOW), body=BODY)
    assert verify_signature(
        secret=SECRET, timestamp=str(NOW), signature=signature, body=BODY, now=NOW
    )
    assert len(calls) == 1
