"""Every finance admin page answers 200 to the roles that may see it and 403 to the others.

Personas (tests/conftest.py): clerk, manager, auditor and a staff user without a role in
tenant alpha; an outsider, manager of tenant beta.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.payments.roles import AUDITOR, FINANCE_CLERK, FINANCE_MANAGER, LEDGER_APPS, ROLE_PERMISSIONS
from apps.tenants.models import Tenant
from tests.conftest import PASSWORD, host_of
from tests.payments.admin_fixtures import Ledger, small_ledger

pytestmark = pytest.mark.django_db

ALL = {"clerk", "manager", "auditor"}
WRITERS = {"clerk", "manager"}
MANAGER_ONLY = {"manager"}

PAGES: list[tuple[str, Callable[[Ledger], str], set[str]]] = [
    ("account changelist", lambda ledger: reverse("admin:accounts_account_changelist"), ALL),
    ("account change", lambda ledger: reverse("admin:accounts_account_change", args=[ledger.account.pk]), ALL),
    ("account add", lambda ledger: reverse("admin:accounts_account_add"), WRITERS),
    ("account history", lambda ledger: reverse("admin:accounts_account_history", args=[ledger.account.pk]), ALL),
    ("account statement", lambda ledger: reverse("account-statement-document", args=[ledger.account.pk]), ALL),
    ("billing settings", lambda ledger: reverse("admin:accounts_billingsettings_change", args=[1]), ALL),
    ("invoice changelist", lambda ledger: reverse("admin:invoices_invoice_changelist"), ALL),
    ("draft invoice change", lambda ledger: reverse("admin:invoices_invoice_change", args=[ledger.draft.pk]), ALL),
    ("open invoice change", lambda ledger: reverse("admin:invoices_invoice_change", args=[ledger.open.pk]), ALL),
    ("invoice add", lambda ledger: reverse("admin:invoices_invoice_add"), WRITERS),
    ("invoice history", lambda ledger: reverse("admin:invoices_invoice_history", args=[ledger.open.pk]), ALL),
    ("draft invoice delete", lambda ledger: reverse("admin:invoices_invoice_delete", args=[ledger.draft.pk]), WRITERS),
    ("credit note changelist", lambda ledger: reverse("admin:invoices_creditnote_changelist"), ALL),
    (
        "credit note change",
        lambda ledger: reverse("admin:invoices_creditnote_change", args=[ledger.credit_note.pk]),
        ALL,
    ),
    (
        "credit note issue",
        lambda ledger: reverse("admin:invoices_creditnote_add") + f"?invoice={ledger.open.pk}",
        MANAGER_ONLY,
    ),
    ("tax rate changelist", lambda ledger: reverse("admin:invoices_taxrate_changelist"), ALL),
    ("tax rate add", lambda ledger: reverse("admin:invoices_taxrate_add"), MANAGER_ONLY),
    ("payment changelist", lambda ledger: reverse("admin:payments_payment_changelist"), ALL),
    ("payment change", lambda ledger: reverse("admin:payments_payment_change", args=[ledger.payment.pk]), ALL),
    ("failed payment change", lambda ledger: reverse("admin:payments_payment_change", args=[ledger.failed.pk]), ALL),
    ("payment history", lambda ledger: reverse("admin:payments_payment_history", args=[ledger.payment.pk]), ALL),
    ("record payment", lambda ledger: reverse("admin:payments_payment_add") + f"?account={ledger.account.pk}", WRITERS),
    ("refund", lambda ledger: reverse("admin:payments_payment_refund", args=[ledger.payment.pk]), MANAGER_ONLY),
    ("refund changelist", lambda ledger: reverse("admin:payments_refund_changelist"), ALL),
    ("AR aging", lambda ledger: reverse("reports:aging"), ALL),
]


@pytest.fixture
def personas(clerk: Any, manager: Any, auditor: Any, roleless: Any) -> dict[str, Any]:
    return {"clerk": clerk, "manager": manager, "auditor": auditor, "roleless": roleless}


@pytest.mark.parametrize(("page", "url_of", "allowed"), PAGES, ids=[page for page, _, _ in PAGES])
def test_each_page_answers_200_to_its_roles_and_403_to_the_others(
    page: str, url_of: Callable[[Ledger], str], allowed: set[str], personas: dict[str, Any], login_a: Any
) -> None:
    ledger = small_ledger()
    url = url_of(ledger)
    statuses = {name: login_a(user).get(url).status_code for name, user in personas.items()}
    assert statuses == {name: 200 if name in allowed else 403 for name in personas}


def test_the_admin_home_shows_the_dashboard_to_finance_roles_only(personas: dict[str, Any], login_a: Any) -> None:
    small_ledger()
    for name, user in personas.items():
        response = login_a(user).get(reverse("admin:index"))
        assert response.status_code == 200
        assert (b'id="billing-dashboard"' in response.content) is (name != "roleless"), name


def test_anonymous_visitors_are_sent_to_the_login_page(in_tenant_a: Tenant) -> None:
    ledger = small_ledger()
    client = Client(HTTP_HOST=host_of(in_tenant_a))
    for _page, url_of, _allowed in PAGES:
        response = client.get(url_of(ledger))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_an_outsider_from_beta_cannot_log_in_on_alphas_host(outsider: Any, tenant_a: Tenant, tenant_b: Tenant) -> None:
    alpha = Client(HTTP_HOST=host_of(tenant_a))
    response = alpha.post(
        reverse("admin:login"), {"username": "outsider", "password": PASSWORD, "next": "/admin/"}, follow=False
    )
    assert response.status_code == 200  # the login form again, with an error
    assert b"Please enter the correct username and password" in response.content
    assert alpha.get(reverse("admin:invoices_invoice_changelist")).status_code == 302

    beta = Client(HTTP_HOST=host_of(tenant_b))
    assert beta.post(reverse("admin:login"), {"username": "outsider", "password": PASSWORD}).status_code == 302
    assert beta.get(reverse("admin:invoices_invoice_changelist")).status_code == 200
    # beta's session cookie means nothing on alpha's host
    alpha.cookies = beta.cookies
    assert alpha.get(reverse("admin:invoices_invoice_changelist")).status_code == 302


def test_every_tenant_schema_has_the_three_role_groups_with_their_permissions(
    in_tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from django.contrib.auth.models import Group
    from django_tenants.utils import schema_context

    for schema in ("alpha", "beta"):
        with schema_context(schema):
            # The ledger apps' permissions (apps.payments.roles); notifications and dunning add their own.
            groups = {
                group.name: {
                    f"{p.content_type.app_label}.{p.codename}"
                    for p in group.permissions.all()
                    if p.content_type.app_label in LEDGER_APPS
                }
                for group in Group.objects.prefetch_related("permissions__content_type")
            }
            assert {FINANCE_CLERK, FINANCE_MANAGER, AUDITOR} <= set(groups)
            for role in (FINANCE_CLERK, FINANCE_MANAGER, AUDITOR):
                assert groups[role] == set(ROLE_PERMISSIONS[role])
    assert "payments.refund_payment" not in ROLE_PERMISSIONS[FINANCE_CLERK]
    assert "invoices.void_invoice" in ROLE_PERMISSIONS[FINANCE_MANAGER]
    assert all(perm.split(".")[1].startswith("view_") for perm in ROLE_PERMISSIONS[AUDITOR])


def test_the_operators_admin_on_the_public_host_has_no_finance_dashboard(db: None) -> None:
    from django.contrib.auth.models import User

    from apps.core.tenancy import use_public_schema

    use_public_schema()
    operator = User.objects.create_superuser("operator", "operator@example.test", PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Tenants and schedules" in response.content
    assert b'id="billing-dashboard"' not in response.content
    assert client.get("/admin/reports/aging/").status_code == 404
