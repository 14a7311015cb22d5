from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from servicedesk import docs, exceptions, health, landing, metrics

api_v1 = [
    path("", include("operators_app.urls")),
    path("", include("requests_app.urls")),
    path("", include("messages_app.urls")),
]

urlpatterns = [
    path("", landing.landing, name="landing"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("desk/", include("desk_app.urls")),
    path("api/schema/", docs.SchemaView.as_view(), name="schema"),
    path("api/docs/", docs.SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", docs.RedocView.as_view(url_name="schema"), name="redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]

admin.site.site_header = "Service desk administration"
admin.site.site_title = "Service desk"

# Django's error pages, answering JSON under /api/.
handler400 = exceptions.handler400
handler403 = exceptions.handler403
handler404 = exceptions.handler404
handler500 = exceptions.handler500

# Keep last: any other URL under /api/ is a JSON 404 for every method.
urlpatterns += [re_path(r"^api/", exceptions.api_not_found, name="api-not-found")]
