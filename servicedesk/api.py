"""Building blocks every API view shares: parsing, validation, UTC times, pagination. What the
views answer is described with `servicedesk.schema`."""

import datetime
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import exceptions, pagination, parsers, serializers

# Deeper than any body the API takes; a client's nesting must never reach Python's
# recursion limit (in the parser, in this walk or in a serializer).
MAX_JSON_DEPTH = 64


def _check_parsed(data) -> None:
    """Refuse unpaired surrogates in strings and nesting deeper than MAX_JSON_DEPTH."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise exceptions.ParseError(
                    "JSON parse error - a string contains an unpaired surrogate escape, "
                    "which is not valid UTF-8."
                ) from None
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise exceptions.ParseError(_TOO_DEEP)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                pending.append((key, depth))
                pending.append((item, depth + 1))


_TOO_DEEP = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."


class StrictJSONParser(parsers.JSONParser):
    """JSON that is also valid UTF-8 text and reasonably shallow: `"\\ud800"` or `[` x 5000
    is a 400 here, not a database error or a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_TOO_DEEP) from None
        _check_parsed(data)
        return data


class _StringOnly(serializers.CharField):
    """A JSON string and nothing else: DRF's own fields would store 5 as "5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# DRF refuses NUL characters (PostgreSQL cannot store them) but does not say so in the
# schema; a pattern does both.
_NO_NUL = RegexValidator(r"^[^\x00]*$", message="Null characters are not allowed.")


class StringField(_StringOnly):
    """DRF's CharField that refuses numbers, booleans and other non-strings, and documents
    that NUL characters are refused."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            _NO_NUL if isinstance(v, ProhibitNullCharactersValidator) else v
            for v in self.validators
        ]


def refuse_blank(value: str) -> str:
    """A text field's value, unless it is empty or only whitespace (DRF's own blank check
    sees whitespace only where the field trims it)."""
    if not value.strip():
        raise serializers.ValidationError("This field may not be blank.", code="blank")
    return value


class EmailStringField(_StringOnly, serializers.EmailField):
    """DRF's EmailField that refuses numbers, booleans and other non-strings."""


def single_values(data):
    """A form body as a plain dict, refusing a field given twice (400) rather than reading
    one of its values; JSON bodies pass through as they are."""
    if not hasattr(data, "lists"):
        return data
    repeated = {name: ["Give this field once."] for name, values in data.lists() if len(values) > 1}
    if repeated:
        raise serializers.ValidationError(repeated)
    return data.dict()


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    """`data` as `serializer_class` validates it; a 400 with the field errors otherwise."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def format_utc(value: datetime.datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds and `Z`: `2026-11-20T10:15:00.000000Z`."""
    if value is None:
        return None
    if value.tzinfo is not datetime.UTC:
        value = value.astimezone(datetime.UTC)
    # isoformat() without arguments is the fastest way to the digits (the single most
    # repeated step of serialising a page); it leaves out a zero fraction. Years are
    # always four digits.
    text = value.isoformat()
    return (text[:26] if value.microsecond else text[:19] + ".000000") + "Z"


class UTCDateTimeField(serializers.DateTimeField):
    """RFC 3339 in UTC (`...Z`) whatever TIME_ZONE the process runs in."""

    def to_representation(self, value):
        return format_utc(value) if value else None


# The largest whole number a query parameter may carry (PostgreSQL's bigint): past it,
# Python's int() would refuse numbers over 4,300 digits and the database any over 2^63.
WHOLE_NUMBER_MAX = 2**63 - 1


def whole_number(raw: str) -> int | None:
    """The value of a query parameter of ASCII digits up to WHOLE_NUMBER_MAX; None otherwise."""
    digits = raw.lstrip("0") or "0"
    if not (raw.isascii() and raw.isdigit()) or len(digits) > len(str(WHOLE_NUMBER_MAX)):
        return None
    number = int(digits)
    return number if number <= WHOLE_NUMBER_MAX else None


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size` (default 50; a larger value than 200 is served as 200)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ("last",)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        number = whole_number(raw)
        if number is None or number < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: ["Enter a whole number from 1 to 200."]}
            )
        return min(number, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            number = whole_number(raw)
            if number is None or number < 1:
                raise serializers.ValidationError(
                    {self.page_query_param: ["Enter a page number: a whole number from 1."]}
                )
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response_schema(self, schema):
        response_schema = super().get_paginated_response_schema(schema)
        properties = response_schema["properties"]
        properties["count"]["example"] = 120
        properties["next"]["example"] = "https://helpdesk.example.com/api/v1/requests/?page=3"
        properties["previous"]["example"] = "https://helpdesk.example.com/api/v1/requests/?page=1"
        return response_schema

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    "Page number, from 1. A page past the last one answers 404."
                )
            elif parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    "Results per page: default 50, at most 200 (a larger value is served as 200)."
                )
            else:
                continue
            parameter["schema"] = {
                **parameter["schema"],
                "minimum": 1,
                "maximum": WHOLE_NUMBER_MAX,
                "format": "int64",
            }
        return parameters
