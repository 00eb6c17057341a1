"""URLs of a tenant host (`<slug>.<BASE_DOMAIN>`): the finance staff's admin and the API."""

from django.contrib import admin
from django.urls import include, path, re_path

from apps.core.api.views import api_not_found
from apps.invoices.views import invoice_document, invoice_document_pdf
from apps.payments.views import account_statement_document

admin.site.site_header = "DotMac Billing"
admin.site.site_title = "DotMac Billing"
admin.site.index_title = "Back office"

urlpatterns = [
    # Finance reports (AR aging): before the admin, which would take /admin/<app>/.
    path("admin/reports/", include("apps.payments.report_urls")),
    path("admin/", admin.site.urls),
    path("documents/invoices/<uuid:invoice_id>/", invoice_document, name="invoice-document"),
    path("documents/invoices/<uuid:invoice_id>/pdf/", invoice_document_pdf, name="invoice-document-pdf"),
    path(
        "documents/accounts/<uuid:account_id>/statement/",
        account_statement_document,
        name="account-statement-document",
    ),
    path("notifications/", include("apps.notifications.urls")),
    path("api/v1/", include("billing_project.api_urls")),
    re_path(r"^api/", api_not_found),
]
