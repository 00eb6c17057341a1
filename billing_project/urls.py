"""URLs of a tenant host (`<slug>.<BASE_DOMAIN>`): the finance staff's admin and the API."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "DotMac Billing"
admin.site.site_title = "DotMac Billing"
admin.site.index_title = "Back office"

urlpatterns = [
    # Finance reports (AR aging, statements): before the admin, which would take /admin/<app>/.
    path("admin/reports/", include("apps.payments.report_urls")),
    path("admin/", admin.site.urls),
]
