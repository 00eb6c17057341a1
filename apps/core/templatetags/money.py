"""`{{ amount|money:currency }}`: an amount formatted at its currency's minor unit (babel)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from apps.core.admin_support import money_text

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    return money_text(amount, currency)
