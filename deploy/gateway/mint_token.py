"""Reference token minting for the platform's gateway (docs/PLATFORM_INTEGRATION.md, "API gateway").

The gateway authenticates the user its own way, then calls billing with a short-lived JWT
it signs itself. This module is what the gateway's auth service runs: copy it, or port its
dozen lines. Only PyJWT (with `cryptography` for RS256/ES256) is needed.

Contract (ARCHITECTURE.md §6; billing verifies all of it):
- header `alg` RS256 or ES256 with `kid` (key from the JWK Set at PLATFORM_JWT_JWKS_URL),
  or RS256/ES256 without `kid` (PLATFORM_JWT_PUBLIC_KEY), or HS256 (PLATFORM_JWT_SECRET);
- claims `iss`, `aud`, `sub` (the user), `tenant` (the billing tenant's slug, or `public` for a
  platform operator), `roles` (billing.read / billing.write / billing.admin / platform.admin),
  `iat`, `exp` (at most PLATFORM_JWT_MAX_LIFETIME = 600 s after `iat`), `jti` (unique; with
  PLATFORM_JWT_SINGLE_USE billing accepts each once).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ROLES = ("billing.read", "billing.write", "billing.admin", "platform.admin")
DEFAULT_LIFETIME_SECONDS = 300


def mint_token(
    *,
    user: str,
    tenant: str,
    roles: Iterable[str],
    key: Any,
    kid: str | None = None,
    algorithm: str = "RS256",
    issuer: str = "platform",
    audience: str = "billing",
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    now: int | None = None,
) -> str:
    """A platform token for `user` acting in `tenant` with `roles`, signed with `key`.

    `key` is the private key (PEM text or a `cryptography` key object) for RS256/ES256, or
    the shared secret for HS256. `kid` names the key in the JWK Set billing fetches.
    """
    roles = list(roles)
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}: billing knows {', '.join(ROLES)}")
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user,
        "tenant": tenant,
        "roles": roles,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def jwks_document(public_keys: Mapping[str, Any]) -> dict[str, Any]:
    """The JWK Set to publish at PLATFORM_JWT_JWKS_URL: {kid: public key} -> {"keys": [...]}.

    Rotation: publish the new key here first, wait at least PLATFORM_JWT_JWKS_CACHE_SECONDS
    (billing's cache, default 300 s), then sign with it; drop the old key once no token signed
    with it can still be valid (its `exp` plus 60 s of clock skew).
    """
    keys = []
    for kid, public_key in public_keys.items():
        if hasattr(public_key, "public_numbers") and hasattr(public_key.public_numbers(), "n"):
            jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
            jwk["alg"] = "RS256"
        else:
            jwk = json.loads(ECAlgorithm.to_jwk(public_key))
            jwk["alg"] = "ES256"
        jwk.update({"kid": kid, "use": "sig"})
        keys.append(jwk)
    return {"keys": keys}
