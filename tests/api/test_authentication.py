"""Platform tokens: every way a credential can be wrong gets 401 (or 403), with a problem."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client, RequestFactory

from apps.core.api.principal import ApiPrincipal, PrincipalKind
from apps.core.tenancy import current_schema
from apps.tenants.api.authentication import resolve_credential
from apps.tenants.api.tokens import CredentialError
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_suspend
from tests.api.conftest import assert_problem, bearer, claims, sign, token

pytestmark = pytest.mark.django_db


def test_a_valid_token_reaches_the_resource_as_its_user_in_its_tenant(api: Client, probe: str) -> None:
    response = api.get(probe, **bearer(sign(claims(sub="alice", roles=["billing.read"]))))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "alice",
        "tenant": "alpha",
        "kind": "platform_token",
        "roles": ["billing.read"],
        "caller": "user:alice",
        "schema": "alpha",
    }


def test_no_credential_gets_401_with_www_authenticate(api: Client, probe: str) -> None:
    response = api.get(probe)
    assert_problem(response, 401, detail_contains="credentials were not provided")
    assert response["WWW-Authenticate"] == 'Bearer realm="billing"'


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Basic YWxpY2U6c2VjcmV0", "Authorization: Bearer <token>"),
        ("Bearer", "Authorization: Bearer <token>"),
        ("Bearer two parts", "Authorization: Bearer <token>"),
        ("Bearer not-a-jwt", "neither a platform token (JWT) nor an API key"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "signature does not verify"),
        ("Bearer bk_short", "The API key is malformed"),
    ],
)
def test_a_malformed_credential_gets_401(api: Client, probe: str, header: str, detail: str) -> None:
    response = api.get(probe, HTTP_AUTHORIZATION=header)
    body = assert_problem(response, 401, type_slug="invalid-credential", detail_contains=detail)
    assert body["title"] == "Invalid credential"
    assert response["WWW-Authenticate"] == 'Bearer realm="billing"'


def test_a_token_signed_with_another_secret_gets_401(api: Client, probe: str) -> None:
    forged = sign(claims(), key="a-secret-the-platform-never-had-0123456789abcdef")
    assert_problem(api.get(probe, **bearer(forged)), 401, type_slug="invalid-credential", detail_contains="signature")


def test_an_unsigned_token_gets_401(api: Client, probe: str) -> None:
    unsigned = jwt.encode(claims(), key="", algorithm="none")
    assert_problem(api.get(probe, **bearer(unsigned)), 401, type_slug="invalid-credential", detail_contains="HS256")


def test_a_token_for_another_audience_or_issuer_gets_401(api: Client, probe: str) -> None:
    assert_problem(
        api.get(probe, **bearer(sign(claims(aud="crm")))),
        401,
        detail_contains="audience is not 'billing'",
        type_slug="invalid-credential",
    )
    assert_problem(
        api.get(probe, **bearer(sign(claims(iss="someone-else")))),
        401,
        detail_contains="issuer is not 'platform'",
        type_slug="invalid-credential",
    )


def test_an_expired_token_gets_401_but_60_seconds_of_clock_skew_are_forgiven(api: Client, probe: str) -> None:
    now = int(time.time())
    expired = sign(claims(iat=now - 400, exp=now - 61))
    assert_problem(api.get(probe, **bearer(expired)), 401, type_slug="invalid-credential", detail_contains="expired")
    within_skew = sign(claims(iat=now - 400, exp=now - 50))
    assert api.get(probe, **bearer(within_skew)).status_code == 200


def test_a_token_issued_in_the_future_gets_401(api: Client, probe: str) -> None:
    now = int(time.time())
    assert_problem(
        api.get(probe, **bearer(sign(claims(iat=now + 120, exp=now + 300)))),
        401,
        type_slug="invalid-credential",
        detail_contains="not valid yet",
    )


def test_a_token_living_longer_than_ten_minutes_gets_401(api: Client, probe: str) -> None:
    now = int(time.time())
    assert api.get(probe, **bearer(sign(claims(iat=now, exp=now + 600)))).status_code == 200
    assert_problem(
        api.get(probe, **bearer(sign(claims(iat=now, exp=now + 601)))),
        401,
        type_slug="invalid-credential",
        detail_contains="longer than the allowed 600 seconds",
    )


def test_the_maximum_lifetime_is_a_setting(api: Client, probe: str, settings) -> None:
    settings.PLATFORM_JWT_MAX_LIFETIME = 60
    now = int(time.time())
    assert_problem(
        api.get(probe, **bearer(sign(claims(iat=now, exp=now + 61)))),
        401,
        type_slug="invalid-credential",
        detail_contains="allowed 60 seconds",
    )


@pytest.mark.parametrize("missing", ["sub", "tenant", "roles", "jti", "iat", "exp", "iss", "aud"])
def test_a_token_without_a_required_claim_gets_401(api: Client, probe: str, missing: str) -> None:
    response = api.get(probe, **bearer(sign(claims(**{missing: None}))))
    assert_problem(response, 401, type_slug="invalid-credential", detail_contains=f"lacks the '{missing}' claim")


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"roles": "billing.admin"}, "'roles' claim must be a list of strings"),
        ({"roles": [1, 2]}, "'roles' claim must be a list of strings"),
        ({"tenant": ""}, "'tenant' claim must be a non-empty string"),
        ({"sub": "x" * 201}, "'sub' claim must be a non-empty string"),
    ],
)
def test_claims_of_the_wrong_shape_get_401(api: Client, probe: str, overrides: dict, detail: str) -> None:
    assert_problem(
        api.get(probe, **bearer(sign(claims(**overrides)))), 401, type_slug="invalid-credential", detail_contains=detail
    )


def test_a_token_for_an_unknown_tenant_gets_401(api: Client, probe: str) -> None:
    response = api.get(probe, **bearer(sign(claims(tenant="nobody"))))
    assert_problem(response, 401, type_slug="unknown-tenant", detail_contains="Unknown tenant 'nobody'")
    assert response["WWW-Authenticate"] == 'Bearer realm="billing"'


def test_a_token_for_a_suspended_tenant_gets_403(api: Client, probe: str, tenant_a: Tenant) -> None:
    tenant_suspend(tenant=tenant_a, reason="unpaid")
    assert_problem(
        api.get(probe, **bearer(token("alpha"))),
        403,
        type_slug="tenant-suspended",
        detail_contains="'alpha' is suspended",
    )


def test_a_token_without_the_role_gets_403(api: Client, probe: str) -> None:
    reader = bearer(token(roles=("billing.read",)))
    assert api.get(probe, **reader).status_code == 200
    assert_problem(
        api.post(probe, {"name": "x"}, content_type="application/json", **reader),
        403,
        detail_contains="needs the role billing.write",
    )
    writer = bearer(token(roles=("billing.write",)))
    assert_problem(api.post(f"{probe}admin/", **writer), 403, detail_contains="needs the role billing.admin")
    assert api.post(f"{probe}admin/", **bearer(token(roles=("billing.admin",)))).status_code == 200
    nobody = bearer(token(roles=("crm.admin",)))
    assert_problem(api.get(probe, **nobody), 403, detail_contains="needs the role billing.read")


def test_platform_admin_alone_does_not_open_billing_data(api: Client, probe: str) -> None:
    assert_problem(api.get(probe, **bearer(token(roles=("platform.admin",)))), 403, detail_contains="billing.read")
    assert_problem(
        api.get(probe, **bearer(token(tenant="public", roles=("billing.admin",)))),
        403,
        detail_contains="not bound to a billing tenant",
    )


def test_the_tenant_comes_from_the_credential_on_any_host_but_a_foreign_tenant_host_refuses(probe: str) -> None:
    alpha_token = bearer(token("alpha", roles=("billing.read",)))
    for host in ("localhost", "127.0.0.1", "alpha.localhost"):
        response = Client(HTTP_HOST=host).get(probe, **alpha_token)
        assert response.status_code == 200, host
        assert response.json()["schema"] == "alpha"
    foreign = Client(HTTP_HOST="beta.localhost").get(probe, **alpha_token)
    assert_problem(foreign, 403, type_slug="tenant-mismatch", detail_contains="for tenant 'alpha', not for this host's")


def test_single_use_tokens_refuse_a_replayed_jti(api: Client, probe: str, settings) -> None:
    once = sign(claims(jti=f"jti-{uuid.uuid4()}"))
    assert api.get(probe, **bearer(once)).status_code == 200
    assert api.get(probe, **bearer(once)).status_code == 200  # reuse allowed while the setting is off

    settings.PLATFORM_JWT_SINGLE_USE = True
    fresh = sign(claims(jti=f"jti-{uuid.uuid4()}"))
    assert api.get(probe, **bearer(fresh)).status_code == 200
    replay = api.get(probe, **bearer(fresh))
    assert_problem(replay, 401, type_slug="invalid-credential", detail_contains="already used")
    assert replay["WWW-Authenticate"] == 'Bearer realm="billing"'


def test_a_single_use_token_refused_for_another_reason_is_not_burnt(probe: str, settings) -> None:
    settings.PLATFORM_JWT_SINGLE_USE = True
    alpha_token = bearer(sign(claims(jti=f"jti-{uuid.uuid4()}")))
    assert Client(HTTP_HOST="beta.localhost").get(probe, **alpha_token).status_code == 403
    assert Client(HTTP_HOST="alpha.localhost").get(probe, **alpha_token).status_code == 200


def _hs256_by_hand(values: dict, secret: bytes) -> str:
    """PyJWT refuses to sign with a PEM as HMAC secret; an attacker would not."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(values).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def _pem(private_key) -> tuple[str, str]:
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return public.decode(), private.decode()


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_asymmetric_tokens_verify_with_the_public_key_and_the_secret_is_then_refused(
    api: Client, probe: str, settings, algorithm: str, make_key
) -> None:
    public_pem, private_pem = _pem(make_key())
    # Environment variables often carry PEMs with literal \n.
    settings.PLATFORM_JWT_PUBLIC_KEY = public_pem.replace("\n", "\\n")
    assert api.get(probe, **bearer(sign(claims(), key=private_pem, algorithm=algorithm))).status_code == 200

    hs256 = sign(claims())  # signed with PLATFORM_JWT_SECRET, still set
    assert_problem(
        api.get(probe, **bearer(hs256)), 401, type_slug="invalid-credential", detail_contains=f"signed with {algorithm}"
    )
    # Algorithm confusion: HS256 with the (known) public key as the HMAC secret.
    assert_problem(
        api.get(probe, **bearer(_hs256_by_hand(claims(), public_pem.encode()))),
        401,
        type_slug="invalid-credential",
        detail_contains=f"signed with {algorithm}",
    )
    other_pair = _pem(make_key())[1]
    assert_problem(
        api.get(probe, **bearer(sign(claims(), key=other_pair, algorithm=algorithm))),
        401,
        type_slug="invalid-credential",
        detail_contains="signature",
    )


def test_resolving_a_credential_gives_the_principal_and_switches_to_its_schema(tenant_b: Tenant) -> None:
    request = RequestFactory().get("/api/v1/probe/", HTTP_AUTHORIZATION=f"Bearer {token('beta', sub='bob')}")
    credential = resolve_credential(request)
    assert credential is not None
    assert credential.principal == ApiPrincipal(
        kind=PrincipalKind.PLATFORM_TOKEN,
        sub="bob",
        tenant="beta",
        roles=frozenset({"billing.admin"}),
        credential_id=credential.principal.credential_id,
    )
    assert credential.tenant == tenant_b
    assert current_schema() == "beta"
    assert str(credential.principal) == "bob@beta (platform_token)"
    # Resolved once: a second look returns the same object without re-verifying.
    assert resolve_credential(request) is credential


def test_a_refused_credential_stays_refused_for_the_whole_request() -> None:
    request = RequestFactory().get("/api/v1/probe/", HTTP_AUTHORIZATION="Bearer nonsense")
    with pytest.raises(CredentialError) as first:
        resolve_credential(request)
    with pytest.raises(CredentialError) as second:
        resolve_credential(request)
    assert first.value is second.value
