"""Platform tokens verified with the platform's JWK Set (PLATFORM_JWT_JWKS_URL, `kid`), the
key rotation it allows, and the static key still used for tokens without `kid`."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from deploy.gateway.mint_token import mint_token
from tests.api.conftest import assert_problem, bearer
from tests.platform.conftest import JwksServer

pytestmark = pytest.mark.django_db


def test_a_token_signed_with_a_published_key_is_accepted(
    api: Client, probe: str, jwks_server: JwksServer, rsa_keys: list, ec_key: Any
) -> None:
    jwks_server.publish({"rsa-1": rsa_keys[0].public_key(), "ec-1": ec_key.public_key()})
    rsa_token = mint_token(user="alice", tenant="alpha", roles=["billing.read"], key=rsa_keys[0], kid="rsa-1")
    response = api.get(probe, **bearer(rsa_token))
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == "alice"
    ec_token = mint_token(
        user="erin", tenant="alpha", roles=["billing.read"], key=ec_key, kid="ec-1", algorithm="ES256"
    )
    assert api.get(probe, **bearer(ec_token)).json()["sub"] == "erin"
    # Both keys came from one fetch of the JWK Set.
    assert jwks_server.fetches == 1


def test_a_token_whose_kid_names_another_key_gets_401(
    api: Client, probe: str, jwks_server: JwksServer, rsa_keys: list
) -> None:
    jwks_server.publish({"rsa-1": rsa_keys[0].public_key()})
    # Signed with key 2 but claiming to be key 1: the signature fails.
    lying = mint_token(user="mallory", tenant="alpha", roles=["billing.admin"], key=rsa_keys[1], kid="rsa-1")
    assert_problem(api.get(probe, **bearer(lying)), 401, type_slug="invalid-credential", detail_contains="signature")


def test_an_unknown_kid_refetches_the_set_at_most_once_per_cooldown(
    api: Client, probe: str, jwks_server: JwksServer, rsa_keys: list
) -> None:
    jwks_server.publish({"rsa-1": rsa_keys[0].public_key()})
    good = mint_token(user="alice", tenant="alpha", roles=["billing.read"], key=rsa_keys[0], kid="rsa-1")
    assert api.get(probe, **bearer(good)).status_code == 200
    for attempt in range(5):
        forged = mint_token(user="m", tenant="alpha", roles=["billing.read"], key=rsa_keys[1], kid=f"made-up-{attempt}")
        assert_problem(
            api.get(probe, **bearer(forged)),
            401,
            type_slug="invalid-credential",
            detail_contains="is not in the platform's JWK Set",
        )
    # Forged kids cannot make every request fetch the set.
    assert jwks_server.fetches == 1


def test_rotation_publish_the_new_key_then_sign_with_it_then_drop_the_old(
    api: Client, probe: str, jwks_server: JwksServer, rsa_keys: list
) -> None:
    from apps.tenants.api.tokens import jwks_client

    old, new = rsa_keys
    jwks_server.publish({"2026-11": old.public_key(), "2026-12": new.public_key()})
    for kid, key in (("2026-11", old), ("2026-12", new)):
        token = mint_token(user="alice", tenant="alpha", roles=["billing.read"], key=key, kid=kid)
        assert api.get(probe, **bearer(token)).status_code == 200
    # The old key is withdrawn; once billing's cache of the set has expired, its tokens fail.
    jwks_server.publish({"2026-12": new.public_key()})
    jwks_client.cache_clear()
    stale = mint_token(user="alice", tenant="alpha", roles=["billing.read"], key=old, kid="2026-11")
    assert_problem(
        api.get(probe, **bearer(stale)),
        401,
        type_slug="invalid-credential",
        detail_contains="'2026-11' is not in the platform's JWK Set",
    )


def test_a_token_without_kid_uses_the_static_key(
    api: Client, probe: str, jwks_server: JwksServer, settings: Any
) -> None:
    hs256 = mint_token(
        user="alice", tenant="alpha", roles=["billing.read"], key=settings.PLATFORM_JWT_SECRET, algorithm="HS256"
    )
    assert api.get(probe, **bearer(hs256)).status_code == 200
    assert jwks_server.fetches == 0
    settings.PLATFORM_JWT_SECRET = ""
    assert_problem(
        api.get(probe, **bearer(hs256)),
        401,
        type_slug="invalid-credential",
        detail_contains="must name its signing key ('kid'",
    )


def test_a_symmetric_key_in_the_set_is_refused(api: Client, probe: str, jwks_server: JwksServer) -> None:
    # An "oct" key would let anyone who can read the JWK Set sign tokens.
    jwks_server.document = {
        "keys": [{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "use": "sig"}]
    }
    token = mint_token(
        user="m",
        tenant="alpha",
        roles=["billing.admin"],
        key="secret-secret-secret-secret-secret-secret",
        kid="hmac",
        algorithm="HS256",
    )
    assert_problem(
        api.get(probe, **bearer(token)),
        401,
        type_slug="invalid-credential",
        detail_contains="not an RS256 or ES256 signing key",
    )


def test_an_unreachable_jwks_endpoint_is_503_not_401(
    api: Client, probe: str, jwks_server: JwksServer, rsa_keys: list
) -> None:
    jwks_server.close()
    token = mint_token(user="alice", tenant="alpha", roles=["billing.read"], key=rsa_keys[0], kid="rsa-1")
    response = api.get(probe, **bearer(token))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
