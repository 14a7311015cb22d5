"""Operators as the API shows them, and what creating one or logging in takes."""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from operators_app.models import Operator
from servicedesk.api import EmailStringField, StringField

OPERATOR_EXAMPLE = {
    "id": 3,
    "name": "Alice",
    "username": "alice",
    "email": "alice@example.com",
    "is_active": True,
    "open_requests": 2,
}


class OperatorRefSerializer(serializers.ModelSerializer):
    """Who holds a request or wrote a reply: `{"id", "name"}`."""

    class Meta:
        model = Operator
        fields = ["id", "name"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[OpenApiExample("operator", value=OPERATOR_EXAMPLE, response_only=True)]
)
class OperatorSerializer(serializers.ModelSerializer):
    """An operator with the number of open requests they hold."""

    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True, allow_blank=True)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    open_requests = serializers.IntegerField(
        read_only=True, help_text="Requests this operator holds that are not closed."
    )

    class Meta:
        model = Operator
        fields = ["id", "name", "username", "email", "is_active", "open_requests"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "new operator",
            value={
                "username": "alice",
                "name": "Alice",
                "email": "alice@example.com",
                "password": "a-long-unguessable-passphrase",
            },
            request_only=True,
        )
    ]
)
class OperatorCreateSerializer(serializers.Serializer):
    """A new operator: the Django user and its profile."""

    username = StringField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="150 characters or fewer: letters, digits and @/./+/-/_ only.",
    )
    name = StringField(max_length=150, help_text="The name requesters see.")
    email = EmailStringField(max_length=254, required=False, allow_blank=True, default="")
    password = StringField(
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        trim_whitespace=False,
        max_length=128,
        style={"input_type": "password"},
        help_text="Optional; without one the user cannot log in by password until staff sets "
        "one. Django's password validators apply.",
    )

    def validate_username(self, value: str) -> str:
        value = get_user_model().normalize_username(value)
        if get_user_model().objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value

    def validate(self, attrs: dict) -> dict:
        if attrs.get("password"):
            user = get_user_model()(username=attrs["username"], email=attrs.get("email", ""))
            try:
                password_validation.validate_password(attrs["password"], user=user)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


@extend_schema_serializer(
    # With split request components a class name of "TokenRequest" came out "TokenRequestRequest".
    component_name="Login",
    examples=[
        OpenApiExample(
            "credentials",
            value={"username": "alice", "password": "a-long-unguessable-passphrase"},
            request_only=True,
        )
    ],
)
class TokenRequestSerializer(serializers.Serializer):
    """A username and password."""

    username = StringField(max_length=150)
    password = StringField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "token",
            value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
            response_only=True,
        )
    ]
)
class TokenSerializer(serializers.Serializer):
    """The key to send as `Authorization: Token <key>`."""

    token = serializers.CharField(read_only=True)
