"""URLs of the public host (`BASE_DOMAIN`): the operators' admin and the API."""

from django.urls import include, path, re_path

from apps.core.api.views import api_not_found
from apps.payments.views import stripe_webhook
from apps.tenants.admin import operator_site
from billing_project.observability.exposition import metrics_view
from billing_project.observability.health import live_view, ready_view

urlpatterns = [
    path("admin/", operator_site.urls),
    # Also answered on any host by ProbeMiddleware (probes and Prometheus use the pod IP).
    path("metrics", metrics_view, name="metrics"),
    path("health/live", live_view, name="health-live"),
    path("health/ready", ready_view, name="health-ready"),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
    path("notifications/anymail/", include("anymail.urls")),
    path("api/v1/", include("billing_project.api_urls")),
    re_path(r"^api/", api_not_found),
]
