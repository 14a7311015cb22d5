"""Building blocks every API view shares: parsing, pagination, UTC times, documented errors."""

import datetime

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import exceptions, pagination, parsers, serializers

from .exceptions import ErrorSerializer, ValidationErrorSerializer


def _reject_unpaired_surrogates(value) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - a string contains an unpaired surrogate escape, "
                "which is not valid UTF-8."
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unpaired_surrogates(key)
            _reject_unpaired_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _reject_unpaired_surrogates(item)


class StrictJSONParser(parsers.JSONParser):
    """JSON that is also valid UTF-8 text: `"\\ud800"` is a 400 here, not a database error."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _reject_unpaired_surrogates(data)
        return data


def single_values(data):
    """A form body as a plain dict, refusing a field given twice (400) rather than reading
    one of its values; JSON bodies pass through as they are."""
    if not hasattr(data, "lists"):
        return data
    repeated = {name: ["Give this field once."] for name, values in data.lists() if len(values) > 1}
    if repeated:
        raise serializers.ValidationError(repeated)
    return data.dict()


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


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size` (default 50; a larger value than 200 is served as 200)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ("last",)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: ["Enter a whole number from 1 to 200."]}
            )
        return min(int(raw), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw not in (None, "", *self.last_page_strings) and not (
            raw.isascii() and raw.isdigit() and int(raw) >= 1
        ):
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
        return parameters


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
    description: str, example: dict, *cases: tuple[str, str], body: bool = False
) -> OpenApiResponse:
    """A documented 400: field errors `{"<field>": ["<message>", ...]}`, or an error about the
    input as a whole as `{"detail", "code"}` (with `body`, examples of those too: one per
    (code, detail), and a JSON parse error)."""
    examples = [OpenApiExample("invalid", value=example, response_only=True)]
    if body:
        cases = (*cases, ("parse_error", "JSON parse error - Expecting value: line 1 column 1."))
        examples += [
            OpenApiExample(code, value={"detail": detail, "code": code}, response_only=True)
            for code, detail in cases
        ]
    return OpenApiResponse(
        response=BAD_REQUEST,
        description=description,
        examples=examples,
    )


UNAUTHENTICATED = error_response(
    "No credentials, or invalid ones (`WWW-Authenticate: Token`).",
    ("not_authenticated", "Authentication credentials were not provided."),
    ("authentication_failed", "Invalid token."),
)
NO_OPERATOR_PROFILE = error_response(
    "The user has no active operator profile.",
    ("no_operator_profile", "This user has no active operator profile."),
)
