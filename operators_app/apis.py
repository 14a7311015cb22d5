"""Operators' HTTP API: logging in for a token, the operator list, creating one, `me`. What
each view takes and answers is described in `schema`."""

from django.db import IntegrityError
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from operators_app import schema
from operators_app.permissions import IsActiveOperator, IsActiveOperatorOrStaff, IsStaff
from operators_app.serializers import (
    OperatorCreateSerializer,
    OperatorSerializer,
    TokenRequestSerializer,
)
from operators_app.services import create_operator, obtain_token
from requests_app.selectors import get_operator, list_operators
from servicedesk.api import StrictJSONParser, single_values, validated
from servicedesk.api_views import PaginatedListApi


@schema.token_obtain
class TokenObtainApi(APIView):
    # Logging in needs no credentials; a stale token header must not get in the way.
    authentication_classes = []
    permission_classes = [AllowAny]
    # JSON, or a form as `curl -d username=... -d password=...` sends it (DRF's defaults).
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    def post(self, request):
        credentials = validated(TokenRequestSerializer, single_values(request.data))
        key = obtain_token(request=request, **credentials)
        return Response({"token": key})


@schema.operator_list
class OperatorListApi(PaginatedListApi):
    serializer_class = OperatorSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsStaff()]
        return [IsActiveOperatorOrStaff()]

    def get_queryset(self):
        return list_operators()

    def post(self, request):
        data = validated(OperatorCreateSerializer, request.data)
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


@schema.operator_me
class OperatorMeApi(APIView):
    permission_classes = [IsActiveOperator]

    def get(self, request):
        return Response(OperatorSerializer(get_operator(operator_id=request.user.operator.pk)).data)
