"""URLs of the public host (`BASE_DOMAIN`): the operators' admin and the API."""

from django.urls import path

from apps.payments.views import stripe_webhook
from apps.tenants.admin import operator_site

urlpatterns = [
    path("admin/", operator_site.urls),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
]
