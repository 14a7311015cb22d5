"""Building blocks every API view shares: parsing, pagination, UTC times, documented errors."""

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
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


class ErrorSerializer(serializers.Serializer):
    """The shape of every error that is not field validation."""

    detail = serializers.CharField(help_text="A human sentence saying what was wrong.")
    code = serializers.CharField(help_text="A stable machine code, e.g. `already_taken`.")


class ValidationErrorSerializer(serializers.Serializer):
    """Field validation errors: `{"<field>": ["<message>", ...], ...}` (documentation only)."""


class ValidationErrorSerializerExtension(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": "Field validation errors: each invalid field with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }


def error_response(description: str, *cases: tuple[str, str]) -> OpenApiResponse:
    """A documented `{"detail", "code"}` error response with an example per (code, detail)."""
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(name, value={"detail": detail, "code": code}, response_only=True)
            for name, (code, detail) in zip(_example_names(cases), cases, strict=True)
        ],
    )


def _example_names(cases: tuple[tuple[str, str], ...]) -> list[str]:
    """Each example is named by its code; a code given more than once is numbered."""
    codes = [code for code, _ in cases]
    seen: dict[str, int] = {}
    names = []
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
        names.append(f"{code} {seen[code]}" if codes.count(code) > 1 else code)
    return names


# A 400 about a JSON body: field errors, or an error about the body as a whole (not JSON,
# not an object, wrong credentials) in the `{"detail", "code"}` shape.
BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[ValidationErrorSerializer, ErrorSerializer],
    resource_type_field_name=None,
)


def validation_response(
    description: str, example: dict, *cases: tuple[str, str]
) -> OpenApiResponse:
    """A documented 400: field errors `{"<field>": ["<message>", ...]}` (`example`), or an
    error about the input as a whole as `{"detail", "code"}` (an example per (code, detail))."""
    examples = [OpenApiExample("invalid", value=example, response_only=True)]
    examples += [
        OpenApiExample(code, value={"detail": detail, "code": code}, response_only=True)
        for code, detail in cases
    ]
    return OpenApiResponse(response=BAD_REQUEST, description=description, examples=examples)


_PARSE_ERROR_CASE = ("parse_error", "JSON parse error - Expecting value: line 1 column 1.")


def body_validation_response(
    description: str, example: dict, *cases: tuple[str, str]
) -> OpenApiResponse:
    """The 400 of an operation that reads a body: `validation_response` with a JSON parse
    error among the `cases`."""
    return validation_response(description, example, *cases, _PARSE_ERROR_CASE)


UNAUTHENTICATED = error_response(
    "No credentials, or invalid ones (`WWW-Authenticate: Token`).",
    ("not_authenticated", "Authentication credentials were not provided."),
    ("authentication_failed", "Invalid token."),
)
_NO_OPERATOR_PROFILE_CASE = ("no_operator_profile", "This user has no active operator profile.")
NO_OPERATOR_PROFILE = error_response(
    "The user has no active operator profile.", _NO_OPERATOR_PROFILE_CASE
)
PAGE_INVALID = validation_response(
    "`page` or `page_size` is not a positive whole number.",
    {"page_size": ["Enter a whole number from 1 to 200."]},
)
PAGE_NOT_FOUND = error_response("The page is past the last one.", ("not_found", "Invalid page."))


def not_found_response(thing: str, *, paginated: bool = False) -> OpenApiResponse:
    """The 404 of an operation on one `thing` by id; `paginated`, also of a page past the last."""
    if not paginated:
        return error_response(
            f"There is no {thing} with this id.", ("not_found", f"No {thing} with this id.")
        )
    return error_response(
        f"There is no {thing} with this id, or the page is past the last one.",
        ("not_found", f"No {thing} with this id."),
        ("not_found", "Invalid page."),
    )


def not_permitted_response(reason: str, detail: str) -> OpenApiResponse:
    """The 403 of an operation only some operators may do: no operator profile, or `reason`
    (`permission_denied`, with `detail`)."""
    return error_response(
        f"No operator profile, or {reason}.",
        _NO_OPERATOR_PROFILE_CASE,
        ("permission_denied", detail),
    )


def unsupported_media_response(description: str) -> OpenApiResponse:
    """The 415 of an operation whose body is of a type it does not read."""
    return error_response(
        description, ("unsupported_media_type", 'Unsupported media type "text/plain" in request.')
    )


OperationResponses = dict[int | tuple[int, str], Any]
View = TypeVar("View", bound=type)


def operation(method: str, operation_id: str, **schema: Any) -> Callable[[View], View]:
    """The class decorator of a view that documents one method: `extend_schema_view` with
    `extend_schema(operation_id=operation_id, **schema)` on `method` (`"get"`, `"post"`, ...)."""
    return extend_schema_view(**{method: extend_schema(operation_id=operation_id, **schema)})


def operator_responses(
    success: OperationResponses,
    *,
    invalid: OpenApiResponse | None = None,
    forbidden: OpenApiResponse | None = NO_OPERATOR_PROFILE,
    not_found: OpenApiResponse | None = None,
    conflict: OpenApiResponse | None = None,
    more: OperationResponses | None = None,
) -> OperationResponses:
    """The documented answers of an operation behind token authentication, in order of
    status: `success` (2xx, 3xx), 400 `invalid`, 401, 403 `forbidden` (by default: no operator
    profile), 404 `not_found`, 409 `conflict`, then `more` (413, 415, ...). None leaves one out."""
    responses: OperationResponses = dict(success)
    for status_code, response in (
        (400, invalid),
        (401, UNAUTHENTICATED),
        (403, forbidden),
        (404, not_found),
        (409, conflict),
    ):
        if response is not None:
            responses[status_code] = response
    return responses | (more or {})


def list_responses(
    item: type[serializers.Serializer],
    *,
    invalid: OpenApiResponse = PAGE_INVALID,
    not_found: OpenApiResponse = PAGE_NOT_FOUND,
) -> OperationResponses:
    """The documented answers of a paginated list of `item`: a page, 400 `invalid` page
    parameters (or filters), 401, 403 no operator profile, 404 `not_found` (a page past the
    last one)."""
    return operator_responses({200: item(many=True)}, invalid=invalid, not_found=not_found)
