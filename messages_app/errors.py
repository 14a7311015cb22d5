"""What mail handling refuses: the domain errors of replies, canned replies and ingestion
(`DomainError`), and the signed webhook's HTTP refusals (DRF's `APIException`)."""

from rest_framework import exceptions, status

from requests_app.errors import InvalidTransitionError
from servicedesk.exceptions import DomainError, NotPermittedError

# --- domain errors -----------------------------------------------------------------------


class RequestClosedError(InvalidTransitionError):
    """A reply to a closed request: the same answer as any refused status change."""

    default_detail = "A closed request cannot receive replies."


class NotAuthorError(NotPermittedError):
    default_detail = "Only the author of a canned reply, or staff, may change it."


class IngestUnavailableError(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "ingest_unavailable"
    default_detail = "The batch could not be stored right now; nothing was stored. Retry later."


# --- the webhook's HTTP errors -----------------------------------------------------------


class WebhookNotConfiguredError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "webhook_not_configured"
    default_detail = (
        "The inbound webhook is disabled: INBOUND_WEBHOOK_SECRET is not configured on the server."
    )


class InvalidSignatureError(exceptions.APIException):
    # Not DRF's AuthenticationFailed: the view has no authenticators, and DRF would turn
    # that one into a 403 without a `WWW-Authenticate` scheme to name.
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_signature"
    default_detail = (
        "The request is not signed with the webhook secret, or its timestamp is not "
        "within the allowed clock window."
    )


class PayloadTooLargeError(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is larger than the server accepts."


class TooManyMessagesError(PayloadTooLargeError):
    default_code = "too_many_messages"
    default_detail = "The batch holds more messages than the server accepts."
