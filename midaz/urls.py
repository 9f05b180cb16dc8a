"""URL configuration: the ``/v1`` API, system endpoints, the OpenAPI schema and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
    SpectacularYAMLAPIView,
)

from midaz import health
from midaz.api.errors import route_not_found
from onboarding import urls as onboarding_urls
from onboarding.api import metadata_indexes
from transactions import urls as transactions_urls

urlpatterns = [
    path("health", health.HealthView.as_view()),
    path("readyz", health.ReadyView.as_view()),
    path("version", health.VersionView.as_view()),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v1/openapi.yaml", SpectacularYAMLAPIView.as_view(), name="schema-yaml"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("v1/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Ledger-scoped routes first: the posting path resolves in a few regex matches.
    path(
        "v1/organizations/<str:organization_id>/ledgers/<str:ledger_id>/",
        include(transactions_urls.ledger_urlpatterns + onboarding_urls.ledger_urlpatterns),
    ),
    path("v1/", include(onboarding_urls.urlpatterns)),
    path("v1/settings/metadata-indexes", metadata_indexes.MetadataIndexCollection.as_view()),
    path(
        "v1/settings/metadata-indexes/entities/<str:entity_name>",
        metadata_indexes.MetadataIndexCreate.as_view(),
    ),
    path(
        "v1/settings/metadata-indexes/entities/<str:entity_name>/key/<str:index_key>",
        metadata_indexes.MetadataIndexItem.as_view(),
    ),
    path("admin/", admin.site.urls),
    # /metrics is answered by midaz.metrics.MetricsMiddleware.
    # Anything else is Midaz's "route not found" (0484), whatever the method and DEBUG.
    re_path(r"^(?!admin/|static/)", route_not_found),
]

handler404 = "midaz.api.errors.handler404"
handler500 = "midaz.api.errors.handler500"
