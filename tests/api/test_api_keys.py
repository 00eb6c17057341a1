"""Tenant API keys: shown once, stored hashed, scoped, revocable, last use recorded."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.tenants.models import ApiKey, Tenant
from apps.tenants.services import api_key_create, api_key_revoke
from tests.api.conftest import assert_problem, bearer
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(tenant_a: Tenant) -> None:
    api_key, plaintext = api_key_create(tenant=tenant_a, name="CRM sync", scope="read", created_by="alice")
    assert re.fullmatch(r"bk_[a-z0-9]{12}_[A-Za-z0-9_-]{40}", plaintext)
    assert plaintext.startswith(f"bk_{api_key.prefix}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.removeprefix(f"bk_{api_key.prefix}_")  # the secret itself may contain "_"
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM tenants_apikey k WHERE id = %s", [api_key.pk])
        row_text = cursor.fetchone()[0]
    assert secret and secret not in row_text and plaintext not in row_text
    assert (stored.name, stored.scope, stored.created_by, stored.last_used_at, stored.revoked_at) == (
        "CRM sync",
        "read",
        "alice",
        None,
        None,
    )


def test_a_read_key_reads_but_cannot_write(api: Client, probe: str, tenant_a: Tenant) -> None:
    api_key, plaintext = api_key_create(tenant=tenant_a, name="reporting", scope="read")
    response = api.get(probe, **bearer(plaintext))
    assert response.status_code == 200
    assert response.json() == {
        "sub": f"api-key:{api_key.pk}",
        "tenant": "alpha",
        "kind": "api_key",
        "roles": ["billing.read"],
        "caller": f"key:{api_key.pk}",
        "schema": "alpha",
    }
    assert_problem(
        api.post(probe, {"name": "x"}, content_type="application/json", **bearer(plaintext)),
        403,
        detail_contains="needs the role billing.write",
    )


def test_a_read_write_key_writes_but_admin_actions_need_a_platform_token(
    api: Client, probe: str, tenant_a: Tenant
) -> None:
    _api_key, plaintext = api_key_create(tenant=tenant_a, name="provisioning", scope="read_write")
    created = api.post(probe, {"name": "made-by-key"}, content_type="application/json", **bearer(plaintext))
    assert created.status_code == 201
    assert created.json()["roles"] == ["billing.read", "billing.write"]
    assert_problem(api.post(f"{probe}admin/", **bearer(plaintext)), 403, detail_contains="billing.admin")


def test_a_revoked_key_gets_401(api: Client, probe: str, tenant_a: Tenant) -> None:
    api_key, plaintext = api_key_create(tenant=tenant_a, name="old", scope="read")
    assert api.get(probe, **bearer(plaintext)).status_code == 200
    revoked = api_key_revoke(api_key=api_key, revoked_by="alice")
    assert revoked.revoked_at is not None and revoked.revoked_by == "alice"
    response = api.get(probe, **bearer(plaintext))
    assert_problem(response, 401, type_slug="invalid-credential", detail_contains="revoked")
    assert response["WWW-Authenticate"] == 'Bearer realm="billing"'
    first_revocation = revoked.revoked_at
    assert api_key_revoke(api_key=api_key, revoked_by="bob").revoked_at == first_revocation


def test_unknown_and_altered_keys_get_401(api: Client, probe: str, tenant_a: Tenant) -> None:
    _api_key, plaintext = api_key_create(tenant=tenant_a, name="k", scope="read")
    altered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert_problem(api.get(probe, **bearer(altered)), 401, type_slug="invalid-credential", detail_contains="Unknown")
    unknown = "bk_" + "z" * 12 + "_" + "x" * 40
    assert_problem(api.get(probe, **bearer(unknown)), 401, type_slug="invalid-credential", detail_contains="Unknown")


def test_a_key_belongs_to_its_tenant_host_and_its_tenant_only(probe: str, tenant_a: Tenant) -> None:
    _api_key, plaintext = api_key_create(tenant=tenant_a, name="k", scope="read")
    assert Client(HTTP_HOST="alpha.localhost").get(probe, **bearer(plaintext)).json()["schema"] == "alpha"
    assert_problem(Client(HTTP_HOST="beta.localhost").get(probe, **bearer(plaintext)), 403, type_slug="tenant-mismatch")


def test_last_use_is_recorded_at_most_once_a_minute(api: Client, probe: str, tenant_a: Tenant) -> None:
    api_key, plaintext = api_key_create(tenant=tenant_a, name="k", scope="read")
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        api.get(probe, **bearer(plaintext))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        api.get(probe, **bearer(plaintext))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get(probe, **bearer(plaintext))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start + timedelta(seconds=61)


def log_in(client: Client) -> None:
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302


def test_staff_create_a_key_in_their_admin_and_see_it_once(client_a: Client, tenant_a: Tenant) -> None:
    log_in(client_a)
    page = client_a.post("/admin/tenants/apikey/add/", {"name": "Billing sync", "scope": "read_write"})
    assert page.status_code == 200
    shown = re.search(rb'value="(bk_[a-z0-9]{12}_[A-Za-z0-9_-]{40})"', page.content)
    assert shown is not None
    plaintext = shown.group(1).decode()
    api_key = ApiKey.objects.get(tenant=tenant_a, name="Billing sync")
    assert api_key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert (api_key.scope, api_key.created_by) == ("read_write", "admin")
    assert "bk_" not in "".join(cookie.value for cookie in client_a.cookies.values())

    detail = client_a.get(f"/admin/tenants/apikey/{api_key.pk}/change/")
    assert detail.status_code == 200
    assert plaintext.encode() not in detail.content
    assert f"bk_{api_key.prefix}_".encode() in detail.content

    listing = client_a.get("/admin/tenants/apikey/")
    assert b"Billing sync" in listing.content and plaintext.encode() not in listing.content


def test_staff_revoke_keys_and_never_see_another_tenants(client_a: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    own, _ = api_key_create(tenant=tenant_a, name="alpha key", scope="read")
    foreign, _ = api_key_create(tenant=tenant_b, name="beta key", scope="read")
    log_in(client_a)
    listing = client_a.get("/admin/tenants/apikey/")
    assert b"alpha key" in listing.content and b"beta key" not in listing.content
    assert client_a.get(f"/admin/tenants/apikey/{foreign.pk}/change/").status_code == 302  # "doesn't exist" redirect
    client_a.post(
        "/admin/tenants/apikey/",
        {"action": "revoke_selected", "_selected_action": [str(own.pk), str(foreign.pk)]},
    )
    assert ApiKey.objects.get(pk=own.pk).revoked_by == "admin"
    assert ApiKey.objects.get(pk=foreign.pk).revoked_at is None
    assert client_a.get(f"/admin/tenants/apikey/{own.pk}/delete/").status_code == 403
