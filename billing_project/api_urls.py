"""`/api/v1/`: one list, included by both the tenant and the public URL confs.

Each app adds its router here (`path("", include("apps.accounts.api.urls"))`); the
schema, docs, auth, idempotency, errors and schemathesis tests pick it up by themselves.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api.views import VersionView

app_name = "api"

urlpatterns = [
    path("version/", VersionView.as_view(), name="version"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("apps.tenants.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.invoices.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.events.api.urls")),
    path("", include("apps.notifications.api.urls")),
    path("", include("apps.privacy.api.urls")),
    path("", include("apps.dunning.api.urls")),
]
