from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.core.api.fields import UUID_PATTERN
from apps.payments.api.views import AccountStatementView, PaymentViewSet

router = SimpleRouter()
router.register("payments", PaymentViewSet, basename="payment")

urlpatterns = [
    *router.urls,
    # Under accounts/ for the client; here because a statement reads invoices and payments,
    # which the accounts app must not import.
    re_path(rf"^accounts/(?P<pk>{UUID_PATTERN})/statement/$", AccountStatementView.as_view(), name="account-statement"),
]
