from django.urls import path

from apps.privacy.api.views import AccountAnonymiseView, AccountExportView

urlpatterns = [
    path("accounts/<uuid:pk>/export/", AccountExportView.as_view(), name="account-export"),
    path("accounts/<uuid:pk>/anonymise/", AccountAnonymiseView.as_view(), name="account-anonymise"),
]
