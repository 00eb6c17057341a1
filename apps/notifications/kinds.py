"""What each kind of notification says and to whom by default: its template variables (with
sample values for the admin's preview and the tests), its default channels, and whether it
is transactional (never silenced completely by opt-outs)."""

from __future__ import annotations

from dataclasses import dataclass

from apps.notifications.models import Channel, Kind

ACCOUNT_VARIABLES = {
    "account_name": "Ada Obi",
    "account_number": "ACC-000042",
    "company_name": "Acme Fibre",
    "support_email": "billing@acme.example",
}
INVOICE_VARIABLES = {
    "invoice_number": "INV-2026-000123",
    "invoice_total": "₦25,000.00",
    "amount_due": "₦25,000.00",
    "issue_date": "17 Nov 2026",
    "due_date": "1 Dec 2026",
}
DUNNING_VARIABLES = {
    "invoice_number": "INV-2026-000123",
    "amount_due": "₦25,000.00",
    "due_date": "1 Dec 2026",
    "days_overdue": "7",
}


@dataclass(frozen=True)
class KindSpec:
    """A kind's declared variables (name -> sample value), default channels, transactional flag."""

    kind: Kind
    variables: dict[str, str]
    default_channels: tuple[str, ...]
    transactional: bool = True

    def sample_context(self) -> dict[str, str]:
        return {**ACCOUNT_VARIABLES, **self.variables}

    @property
    def variable_names(self) -> list[str]:
        return sorted(self.sample_context())


EMAIL, SMS, PUSH = Channel.EMAIL.value, Channel.SMS.value, Channel.PUSH.value

KINDS: dict[str, KindSpec] = {
    spec.kind.value: spec
    for spec in [
        KindSpec(Kind.INVOICE_CREATED, INVOICE_VARIABLES, (EMAIL,)),
        KindSpec(Kind.INVOICE_SENT, INVOICE_VARIABLES, (EMAIL, SMS, PUSH)),
        KindSpec(
            Kind.PAYMENT_SUCCEEDED,
            {"amount": "₦25,000.00", "payment_reference": "TRF-778", "payment_date": "2 Dec 2026", "balance": "₦0.00"},
            (EMAIL, PUSH),
        ),
        KindSpec(
            Kind.PAYMENT_FAILED,
            {"amount": "₦25,000.00", "payment_date": "2 Dec 2026", "failure_reason": "Your card was declined."},
            (EMAIL, SMS, PUSH),
        ),
        KindSpec(Kind.DUNNING_REMINDER, DUNNING_VARIABLES, (EMAIL,)),
        KindSpec(Kind.DUNNING_ESCALATION, DUNNING_VARIABLES, (EMAIL, SMS)),
        KindSpec(Kind.DUNNING_FINAL_NOTICE, {**DUNNING_VARIABLES, "suspension_date": "15 Dec 2026"}, (EMAIL, SMS)),
        KindSpec(
            Kind.ACCOUNT_SUSPENDED,
            {"amount_due": "₦25,000.00", "reason": "Unpaid invoices"},
            (EMAIL, SMS, PUSH),
        ),
        KindSpec(Kind.ACCOUNT_REACTIVATED, {}, (EMAIL, SMS, PUSH)),
        KindSpec(
            Kind.CREDIT_NOTE_ISSUED,
            {"credit_note_number": "CN-2026-000007", "amount": "₦5,000.00", "invoice_number": "INV-2026-000123"},
            (EMAIL,),
        ),
        KindSpec(
            Kind.REFUND_ISSUED,
            {"amount": "₦5,000.00", "payment_reference": "TRF-778", "reason": "Duplicate payment"},
            (EMAIL,),
        ),
    ]
}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown notification kind {kind!r}") from None
