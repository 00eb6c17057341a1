"""A real browser (Debian's chromium, driven by Playwright) takes a draft invoice to paid in the
finance admin: log in, open the draft, finalize it from the changelist, record a payment with the
preview-then-confirm form, and see the invoice paid and the account balance on the pages.

pytest-django's `live_server` flushes tables in a way that does not know tenant schemas, so the
test serves the real WSGI application itself from a thread on a free port, against a committed
tenant. Chromium comes from the project's set-up (`make system-deps` apt-installs it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.accounts.services import account_create
from apps.invoices.lines import LineInput
from apps.invoices.models import Invoice
from apps.invoices.services import invoice_create
from apps.tenants.models import Tenant
from tests.conftest import BASE_DIR, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = BASE_DIR / ".local" / "browser"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServerThread(threading.Thread):
    """The project's WSGI application (with static files) on 127.0.0.1, on a free port."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
        self.server.set_app(StaticFilesHandler(WSGIHandler()))
        self.port = self.server.server_address[1]

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        connections.close_all()


@pytest.fixture
def live_tenant(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[Tenant]:
    """The committed tenant, with the database open to the server thread for the test's length."""
    with django_db_blocker.unblock():
        yield committed_tenant


@pytest.fixture
def server(live_tenant: Tenant) -> Iterator[ServerThread]:
    thread = ServerThread()
    thread.start()
    yield thread
    thread.stop()
    thread.join(timeout=10)


@contextmanager
def chromium_page(host: str) -> Iterator[Any]:
    """A page in headless chromium that resolves `host` to 127.0.0.1.

    Playwright's sync API runs an event loop in this thread, so Django's ORM refuses to run here
    while the page is open: set data up before, check the database after.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make system-deps` as root (it apt-installs chromium), "
            "or `apt-get install -y chromium`",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {host} 127.0.0.1"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(20_000)  # actions (goto, click, fill)
            expect.set_options(timeout=20_000)  # assertions: a POST, its redirect and a page render
            yield page
        finally:
            browser.close()


def test_a_clerk_finalizes_a_draft_and_records_its_payment_in_a_real_browser(
    live_tenant: Tenant, server: ServerThread, make_staff: Any
) -> None:
    from playwright.sync_api import expect

    with schema_context(live_tenant.schema_name):
        make_staff("clerk", "Finance Clerk")
        account = account_create(name="Ada Obi", currency="NGN", email="ada@example.com")
        draft = invoice_create(
            account=account, lines=[LineInput(description="Fibre 100 Mbps, December", unit_price="25000.00")]
        )
    host = f"{live_tenant.schema_name}.{settings.BASE_DOMAIN}"
    base = f"http://{host}:{server.port}"

    with chromium_page(host) as page:
        # Log in through the admin's login form.
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", "clerk")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#user-tools")).to_contain_text("clerk")

        # Open the draft: the page says it is a draft.
        page.goto(f"{base}/admin/invoices/invoice/{draft.pk}/change/")
        expect(page.locator("#content h2").first).to_have_text(f"Draft {str(draft.pk)[:8]}")

        # Finalize it with the changelist's action; the message names its new number.
        page.goto(f"{base}/admin/invoices/invoice/")
        page.check(f"input[name=_selected_action][value='{draft.pk}']")
        page.select_option("select[name=action]", "finalize_invoices")
        page.click("button[name=index]")
        message = page.locator("ul.messagelist")
        expect(message).to_contain_text(re.compile(r"finalized as INV-\d{4}-\d{6}"))
        number = re.search(r"INV-\d{4}-\d{6}", message.inner_text()).group(0)  # type: ignore[union-attr]

        # The finalized invoice offers "Record payment"; the form starts on its account.
        page.goto(f"{base}/admin/invoices/invoice/{draft.pk}/change/")
        page.click("text=Record payment")
        expect(page.locator("#content-main")).to_contain_text("Ada Obi")
        page.fill("#id_amount", "25000.00")
        page.select_option("#id_method", "bank_transfer")
        page.fill("#id_reference", "TRF-778")
        page.click("input[name=_preview]")
        expect(page.locator("#allocation-preview")).to_contain_text(number)
        expect(page.locator("#preview-allocated")).to_contain_text("25,000.00")
        page.click("input[name=_confirm]")
        expect(page.locator("ul.messagelist")).to_contain_text("Payment of NGN25,000.00 recorded for")
        expect(page.locator("ul.messagelist")).to_contain_text(number)

        # The invoice shows as paid; the account page shows what it owes: nothing.
        page.goto(f"{base}/admin/invoices/invoice/{draft.pk}/change/")
        expect(page.locator(".field-status_badge .billing-badge")).to_have_text("Paid")
        expect(page.locator(".field-amount_due_column .readonly")).to_have_text("NGN0.00")
        page.goto(f"{base}/admin/accounts/account/{account.pk}/change/")
        expect(page.locator(".field-balance_column .readonly")).to_have_text("NGN0.00")
        invoice_row = page.locator("tr", has=page.locator(f"a:text-is('{number}')"))
        expect(invoice_row.locator(".billing-badge")).to_have_text("Paid")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "admin-account-after-payment.png"), full_page=True)

    with schema_context(live_tenant.schema_name):
        invoice = Invoice.objects.get(pk=draft.pk)
        account = Account.objects.get(pk=account.pk)
    assert (invoice.number, invoice.status, invoice.amount_due, invoice.amount_paid) == (
        number,
        "paid",
        0,
        Decimal("25000.00"),
    )
    assert (account.amount_due, account.credit_balance, account.balance) == (0, 0, 0)
