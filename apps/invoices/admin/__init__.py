"""The finance staff's admin of invoices, credit notes and tax rates."""

from apps.invoices.admin.credit_notes import CreditNoteAdmin
from apps.invoices.admin.invoices import InvoiceAdmin
from apps.invoices.admin.tax_rates import TaxRateAdmin

__all__ = ["CreditNoteAdmin", "InvoiceAdmin", "TaxRateAdmin"]
