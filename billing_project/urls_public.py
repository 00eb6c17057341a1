"""URLs of the public host (`BASE_DOMAIN`): the operators' admin and the API."""

from django.urls import path

from apps.tenants.admin import operator_site

urlpatterns = [
    path("admin/", operator_site.urls),
]
