"""What operators' accounts refuse: each error's HTTP status and machine code (API.md)."""

from rest_framework import status

from servicedesk.exceptions import DomainError, NotPermittedError


class NoOperatorProfileError(NotPermittedError):
    code = "no_operator_profile"
    default_detail = "This user has no active operator profile."


class InvalidCredentialsError(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_credentials"
    default_detail = "Unable to log in with the provided username and password."
