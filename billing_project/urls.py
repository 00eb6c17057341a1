"""URLs of a tenant host (`<slug>.<BASE_DOMAIN>`): the finance staff's admin and the API."""

from django.contrib import admin
from django.urls import include, path, re_path

from apps.core.api.views import api_not_found

admin.site.site_header = "DotMac Billing"
admin.site.site_title = "DotMac Billing"
admin.site.index_title = "Back office"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("billing_project.api_urls")),
    re_path(r"^api/", api_not_found),
]
