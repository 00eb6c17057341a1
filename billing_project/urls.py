"""URLs of a tenant host (`<slug>.<BASE_DOMAIN>`): the finance staff's admin and the API."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "DotMac Billing"
admin.site.site_title = "DotMac Billing"
admin.site.index_title = "Back office"

urlpatterns = [
    path("admin/", admin.site.urls),
]
