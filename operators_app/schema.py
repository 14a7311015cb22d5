"""The OpenAPI description of the operators API (`operators_app.apis`): what each view
takes and answers, applied to the view classes with `extend_schema_view`."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from operators_app.serializers import (
    OperatorCreateSerializer,
    OperatorSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from servicedesk.schema import (
    body_validation_response,
    error_response,
    list_responses,
    operation,
    operator_responses,
    unsupported_media_response,
    validation_response,
)

TAGS = ["operators"]
THROTTLED = error_response(
    "Too many attempts; `Retry-After` says when to try again.",
    ("throttled", "Too many failed logins. Expected available in 60 seconds."),
)

token_obtain = operation(
    "post",
    "auth_token_create",
    tags=["auth"],
    summary="Obtain an API token",
    description=(
        "Exchanges a username and password for the user's API token, sent afterwards as "
        "`Authorization: Token <key>`. Past 10 failed logins in a minute, per client "
        "address and per username, the next attempts answer 429."
    ),
    auth=[],
    request=TokenRequestSerializer,
    responses={
        200: TokenSerializer,
        400: body_validation_response(
            "Wrong credentials (`invalid_credentials`), a missing field (field errors), or a "
            "body that is not a JSON object.",
            {"password": ["This field is required."]},
            ("invalid_credentials", "Unable to log in with the provided username and password."),
        ),
        415: unsupported_media_response("The body is neither JSON nor a form."),
        429: THROTTLED,
    },
)

operator_list = extend_schema_view(
    get=extend_schema(
        operation_id="operators_list",
        tags=TAGS,
        summary="List operators",
        description="Every operator, by name, with the number of open requests each holds.",
        responses=list_responses(
            OperatorSerializer,
            invalid=validation_response(
                "`page` or `page_size` is not a positive whole number.",
                {"page": ["Enter a page number: a whole number from 1."]},
            ),
        ),
    ),
    post=extend_schema(
        operation_id="operators_create",
        tags=TAGS,
        summary="Create an operator (staff only)",
        description="Creates the Django user and its operator profile in one transaction.",
        request=OperatorCreateSerializer,
        responses=operator_responses(
            {201: OperatorSerializer},
            invalid=body_validation_response(
                "A field is invalid, or the username is taken; or the body is not a JSON object.",
                {"username": ["A user with that username already exists."]},
            ),
            forbidden=error_response(
                "The caller is not staff.",
                ("permission_denied", "Only staff may manage operators."),
            ),
            more={415: unsupported_media_response("The body is not JSON.")},
        ),
    ),
)

operator_me = operation(
    "get",
    "operators_me",
    tags=TAGS,
    summary="The caller's operator profile",
    responses=operator_responses({200: OperatorSerializer}),
)
