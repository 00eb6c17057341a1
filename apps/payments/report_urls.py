"""/admin/reports/... on tenant hosts (included by billing_project/urls.py before the admin)."""

from django.contrib import admin
from django.urls import path

from apps.payments.reports import aging_report

app_name = "reports"

urlpatterns = [
    path("aging/", admin.site.admin_view(aging_report), name="aging"),
]
