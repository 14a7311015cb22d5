"""The OpenAPI document, Swagger UI and ReDoc: public, and answering errors as JSON."""

from collections.abc import Sequence

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.renderers import JSONRenderer


class _PublicWithJSONErrors(APIView):
    """No credentials needed (a stale token must not lock anyone out of the docs), and an
    error (405, 406, ...) answers JSON like the rest of /api/ instead of YAML or HTML."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = (AllowAny,)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(_PublicWithJSONErrors, SpectacularAPIView):
    """The OpenAPI 3 document: YAML, or JSON with `Accept: application/vnd.oai.openapi+json`."""


class SwaggerView(_PublicWithJSONErrors, SpectacularSwaggerSplitView):
    """Swagger UI, served from the sidecar package (no network needed); its start-up script
    is a file of its own (`?script`), not inline, as the Content-Security-Policy requires."""


class RedocView(_PublicWithJSONErrors, SpectacularRedocView):
    """ReDoc, served from the sidecar package, without web fonts or inline script (no
    network needed)."""

    template_name = "servicedesk/redoc.html"


class ServicedeskSessionScheme(SessionScheme):
    """The session authentication that makes staff operators is documented as Django's."""

    target_class = "operators_app.authentication.SessionAuthentication"
