"""Operators' HTTP API: logging in for a token, the operator list, creating one, `me`."""

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from operators_app.permissions import IsActiveOperator, IsActiveOperatorOrStaff, IsStaff
from operators_app.serializers import (
    OperatorCreateSerializer,
    OperatorSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from operators_app.services import create_operator, obtain_token
from requests_app.selectors import get_operator, list_operators
from servicedesk.api import (
    NO_OPERATOR_PROFILE,
    UNAUTHENTICATED,
    PageNumberPagination,
    StrictJSONParser,
    error_response,
    single_values,
    validation_response,
)

TAGS = ["operators"]
THROTTLED = error_response(
    "Too many attempts; `Retry-After` says when to try again.",
    ("throttled", "Too many failed logins. Expected available in 60 seconds."),
)


class TokenObtainApi(APIView):
    # Logging in needs no credentials; a stale token header must not get in the way.
    authentication_classes = []
    permission_classes = [AllowAny]
    # JSON, or a form as `curl -d username=... -d password=...` sends it (DRF's defaults).
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="auth_token_create",
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
            400: validation_response(
                "Wrong credentials (`invalid_credentials`), a missing field (field errors), or a "
                "body that is not a JSON object.",
                {"password": ["This field is required."]},
                (
                    "invalid_credentials",
                    "Unable to log in with the provided username and password.",
                ),
                body=True,
            ),
            415: error_response(
                "The body is neither JSON nor a form.",
                ("unsupported_media_type", 'Unsupported media type "text/plain" in request.'),
            ),
            429: THROTTLED,
        },
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=single_values(request.data))
        serializer.is_valid(raise_exception=True)
        key = obtain_token(request=request, **serializer.validated_data)
        return Response({"token": key})


class OperatorListApi(generics.GenericAPIView):
    parser_classes = [StrictJSONParser]
    pagination_class = PageNumberPagination
    serializer_class = OperatorSerializer
    filter_backends = []

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsStaff()]
        return [IsActiveOperatorOrStaff()]

    def get_queryset(self):
        return list_operators()

    @extend_schema(
        operation_id="operators_list",
        tags=TAGS,
        summary="List operators",
        description="Every operator, by name, with the number of open requests each holds.",
        responses={
            200: OperatorSerializer(many=True),
            400: validation_response(
                "`page` or `page_size` is not a positive whole number.",
                {"page": ["Enter a page number: a whole number from 1."]},
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: error_response("The page is past the last one.", ("not_found", "Invalid page.")),
        },
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OperatorSerializer(page, many=True).data)

    @extend_schema(
        operation_id="operators_create",
        tags=TAGS,
        summary="Create an operator (staff only)",
        description="Creates the Django user and its operator profile in one transaction.",
        request=OperatorCreateSerializer,
        responses={
            201: OperatorSerializer,
            400: validation_response(
                "A field is invalid, or the username is taken; or the body is not a JSON object.",
                {"username": ["A user with that username already exists."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: error_response(
                "The caller is not staff.",
                ("permission_denied", "Only staff may manage operators."),
            ),
            415: error_response(
                "The body is not JSON.",
                ("unsupported_media_type", 'Unsupported media type "text/plain" in request.'),
            ),
        },
    )
    def post(self, request):
        serializer = OperatorCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            operator = create_operator(
                username=data["username"],
                name=data["name"],
                email=data["email"],
                password=data["password"] or None,
            )
        except IntegrityError:
            # Another request created the same username between the check and the insert.
            return Response(
                {"username": ["A user with that username already exists."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            OperatorSerializer(get_operator(operator_id=operator.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class OperatorMeApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="operators_me",
        tags=TAGS,
        summary="The caller's operator profile",
        responses={
            200: OperatorSerializer,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
        },
    )
    def get(self, request):
        return Response(OperatorSerializer(get_operator(operator_id=request.user.operator.pk)).data)
