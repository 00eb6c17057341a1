"""Admin forms of invoices: the draft form, its lines, the reason asked by void / write-off."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.invoices.lines import LineInput
from apps.invoices.models import Invoice, InvoiceLine


class InvoiceForm(forms.ModelForm[Invoice]):
    """A draft's header; lines come from the inline. Saved by invoice_create / invoice_update_draft."""

    class Meta:
        model = Invoice
        fields = ["account", "due_date", "memo"]
        help_texts = {"due_date": "Leave empty to take it from the account's payment terms when finalized."}


class InvoiceLineForm(forms.ModelForm[InvoiceLine]):
    class Meta:
        model = InvoiceLine
        fields = ["description", "quantity", "unit_price", "discount", "tax_rate"]
        widgets = {
            "description": forms.TextInput(attrs={"size": 40}),
            "quantity": forms.NumberInput(attrs={"style": "width:6em", "step": "any"}),
            "unit_price": forms.NumberInput(attrs={"style": "width:9em", "step": "any"}),
            "discount": forms.NumberInput(attrs={"style": "width:7em", "step": "any"}),
        }


def lines_from_formsets(formsets: list[Any]) -> list[LineInput]:
    """The kept lines of the inline formset(s), in the order shown, for the service."""
    lines = []
    for formset in formsets:
        if formset.model is not InvoiceLine:
            continue
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            lines.append(
                LineInput(
                    description=data["description"],
                    quantity=data["quantity"],
                    unit_price=data["unit_price"],
                    discount=data.get("discount") or 0,
                    tax_rate=data.get("tax_rate"),
                )
            )
    return lines


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        required=True,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Kept on each invoice and sent with its event.",
    )
