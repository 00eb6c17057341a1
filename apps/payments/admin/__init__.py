"""The finance staff's admin of payments and refunds."""

from apps.payments.admin.payments import PaymentAdmin, RefundAdmin

__all__ = ["PaymentAdmin", "RefundAdmin"]
