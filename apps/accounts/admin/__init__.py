"""The finance staff's admin of billing accounts and the tenant's billing settings."""

from apps.accounts.admin.accounts import AccountAdmin
from apps.accounts.admin.billing_settings import BillingSettingsAdmin
from apps.accounts.admin.filters import AccountFilter, BalanceFilter, CurrencyFilter, account_link

__all__ = ["AccountAdmin", "AccountFilter", "BalanceFilter", "BillingSettingsAdmin", "CurrencyFilter", "account_link"]
