"""What a test needs from the machine: a test whose PostgreSQL, Redis or program is absent
skips with a reason; under CI=true it fails instead, so CI can never pass by skipping."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip a test whose dependency is absent, or fail it under CI."""
    if IS_CI:
        pytest.fail(f"CI requires this test to run: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binaries(*names: str) -> None:
    """Skip (fail under CI) a test whose programs are not installed."""
    absent = [name for name in names if shutil.which(name) is None]
    if absent:
        missing(f"needs {', '.join(absent)} installed")


def redis_available(url: str) -> bool:
    """True when a Redis server answers a ping at `url`."""
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
