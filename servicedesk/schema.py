"""Building blocks of the apps' OpenAPI descriptions (`<app>/schema.py`): the shapes of errors,
documented answers (400, 401, 403, 404, 415 and those of a paginated list) and `operation()`
for a view that documents one method."""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers


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
