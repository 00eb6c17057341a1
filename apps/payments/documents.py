"""Account statement documents (HTML and PDF) from `account_statement`."""

from __future__ import annotations

from typing import Any

from apps.invoices.documents import formatter_for, html_to_pdf, issuer, live_snapshot, render_document
from apps.payments.selectors import AccountStatement


def statement_context(statement: AccountStatement) -> dict[str, Any]:
    account = statement.account
    fmt = formatter_for(account, statement.currency)
    return {
        "issuer": issuer(),
        "account": account,
        "bill_to": live_snapshot(account),
        "language": fmt.language,
        "currency": statement.currency,
        "start": fmt.date(statement.start),
        "end": fmt.date(statement.end),
        "opening_balance": fmt.money(statement.opening_balance),
        "closing_balance": fmt.money(statement.closing_balance),
        "lines": [
            {
                "date": fmt.date(line.date),
                "kind": line.kind,
                "reference": line.reference,
                "description": line.description,
                "charge": fmt.money(line.amount) if line.amount > 0 else "",
                "credit": fmt.money(-line.amount) if line.amount < 0 else "",
                "balance": fmt.money(line.balance),
            }
            for line in statement.lines
        ],
        "summary": [
            ("Invoiced", fmt.money(statement.invoiced)),
            ("Voided", fmt.money(-statement.voided)),
            ("Credit notes", fmt.money(-statement.credited)),
            ("Payments", fmt.money(-statement.paid)),
            ("Refunds", fmt.money(statement.refunded)),
            ("Written off", fmt.money(-statement.written_off)),
        ],
    }


def statement_html(statement: AccountStatement) -> str:
    """The statement as a standalone HTML page."""
    return render_document("invoices/statement.html", statement_context(statement))


def statement_pdf(statement: AccountStatement) -> bytes:
    """The statement as a PDF."""
    return html_to_pdf(statement_html(statement))
