"""The JSON renderer: orjson's speed, DRF's bytes."""

import datetime
import decimal
import uuid
from collections import OrderedDict

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from servicedesk.renderers import JSONRenderer

PAYLOADS = {
    "page": {
        "count": 2,
        "next": "http://testserver/api/v1/requests/?page=2",
        "previous": None,
        "results": [
            {"id": 1, "subject": "Принтер", "operator": None, "message_count": 4},
            {"id": 2, "subject": "ok", "operator": {"id": 3, "name": "Ann"}, "open": True},
        ],
    },
    "error": {"detail": ErrorDetail("Not found.", code="not_found"), "code": "not_found"},
    "field errors": ReturnDict(
        {"status": [ErrorDetail("Unknown status 'x'.", code="invalid_choice")]}, serializer=None
    ),
    "list": ReturnList([{"a": 1}], serializer=None),
    "ordered": OrderedDict([("b", 1), ("a", 2)]),
    "lazy text": {"detail": gettext_lazy("Not found.")},
    "datetimes": {
        "utc": datetime.datetime(2026, 11, 20, 10, 15, 0, 123456, tzinfo=datetime.UTC),
        "offset": datetime.datetime(
            2026, 11, 20, 10, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=3))
        ),
        "date": datetime.date(2026, 11, 20),
    },
    "other types": {"uuid": uuid.UUID(int=7), "decimal": decimal.Decimal("1.5"), "t": (1, 2)},
    "separators": {"text": "a\u2028b\u2029c"},
    "control and quotes": {"text": 'tab\t"quote"\\ \x00\x1f é 😀'},
    "big integer": {"n": 2**70, "m": -(2**64)},
    "empty": {},
    "nested empty": {"results": [], "errors": {}},
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_the_bytes_are_drfs(payload):
    assert JSONRenderer().render(payload) == renderers.JSONRenderer().render(payload)


def test_indentation_asked_for_is_drfs():
    payload = PAYLOADS["page"]
    media_type = "application/json; indent=4"

    rendered = JSONRenderer().render(payload, media_type)

    assert rendered == renderers.JSONRenderer().render(payload, media_type)
    assert b"\n    " in rendered


def test_none_renders_nothing():
    assert JSONRenderer().render(None) == b""
