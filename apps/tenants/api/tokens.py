"""Platform tokens: the gateway's signed JWT, verified strictly; and a dev-only minting helper.

HS256 with PLATFORM_JWT_SECRET, or RS256/ES256 with PLATFORM_JWT_PUBLIC_KEY (then the
secret is never accepted, so a token cannot be signed with the public key as an HMAC
secret). With PLATFORM_JWT_JWKS_URL, a token whose header names a `kid` is checked with that
key of the platform's JWK Set (RS256/ES256 only; fetched with PyJWKClient, cached for
PLATFORM_JWT_JWKS_CACHE_SECONDS, refetched at most every 30 s for an unknown `kid`), which is
how the platform rotates keys; a token without `kid` falls back to the static key.
Verified: signature, `iss`, `aud`, `exp` with 60 s of clock skew, `iat` not in the future,
a lifetime `exp - iat` of at most PLATFORM_JWT_MAX_LIFETIME, and the claims
`sub`, `tenant`, `roles`, `jti`. With PLATFORM_JWT_SINGLE_USE a `jti` is accepted once.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
import redis
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.redis import redis_client, redis_key

CLOCK_SKEW_SECONDS = 60
REQUIRED_CLAIMS = ("iss", "aud", "sub", "tenant", "roles", "exp", "iat", "jti")
MAX_CLAIM_LENGTH = 200


class CredentialError(Exception):
    """A credential that is refused: 401 (not valid) or 403 (valid, but not here)."""

    def __init__(self, detail: str, *, status: int = 401, type_slug: str | None = None, title: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.type_slug = type_slug
        self.title = title


class TokenStoreUnavailable(Exception):
    """Single-use tokens are on, and Redis (where seen `jti`s live) cannot be reached."""


@dataclass(frozen=True)
class PlatformClaims:
    sub: str
    tenant: str
    roles: frozenset[str]
    jti: str
    issued_at: int
    expires_at: int
    raw: dict[str, Any]


@lru_cache(maxsize=4)
def _public_key_and_algorithms(pem: str) -> tuple[Any, tuple[str, ...]]:
    text = pem.strip().replace("\\n", "\n")
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as exc:
        raise ImproperlyConfigured("PLATFORM_JWT_PUBLIC_KEY is not a PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        return key, ("RS256",)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key, ("ES256",)
    raise ImproperlyConfigured("PLATFORM_JWT_PUBLIC_KEY must be an RSA (RS256) or EC P-256 (ES256) key")


# Unknown `kid`s refetch the JWK Set at most this often (a forged token cannot make every
# request fetch it).
JWKS_REFRESH_COOLDOWN_SECONDS = 30.0
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
JWK_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}


@lru_cache(maxsize=4)
def jwks_client(url: str, lifespan: float) -> jwt.PyJWKClient:
    """One PyJWKClient per JWKS URL: its JWK Set cache lives as long as the process."""
    return jwt.PyJWKClient(
        url,
        cache_jwk_set=True,
        lifespan=lifespan,
        timeout=JWKS_FETCH_TIMEOUT_SECONDS,
        cooldown_duration=min(JWKS_REFRESH_COOLDOWN_SECONDS, lifespan),
        headers={"User-Agent": "dotmac-billing"},
    )


def _token_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.DecodeError as exc:
        raise _refused("The bearer token is neither a platform token (JWT) nor an API key (bk_...).") from exc
    return kid if isinstance(kid, str) and kid else None


def _jwks_key(token: str, kid: str) -> tuple[Any, tuple[str, ...]]:
    client = jwks_client(settings.PLATFORM_JWT_JWKS_URL, float(settings.PLATFORM_JWT_JWKS_CACHE_SECONDS))
    try:
        jwk = client.get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as exc:
        raise TokenStoreUnavailable(f"cannot fetch the platform's JWK Set: {exc}") from exc
    except jwt.PyJWKClientError as exc:
        raise _refused(f"The token's key {kid!r} is not in the platform's JWK Set.") from exc
    algorithm = JWK_ALGORITHMS.get(jwk.key_type or "")
    if algorithm is None or (jwk.algorithm_name not in (None, algorithm)):
        raise _refused(f"The platform's key {kid!r} is not an RS256 or ES256 signing key.")
    return jwk.key, (algorithm,)


def verification_key(token: str | None = None) -> tuple[Any, tuple[str, ...]]:
    """The key `token` is checked with, and the only algorithms accepted with it.

    A `kid` in the token's header with PLATFORM_JWT_JWKS_URL set picks the key from the
    platform's JWK Set; otherwise the static PLATFORM_JWT_PUBLIC_KEY or PLATFORM_JWT_SECRET.
    """
    if token is not None and settings.PLATFORM_JWT_JWKS_URL:
        kid = _token_kid(token)
        if kid is not None:
            return _jwks_key(token, kid)
        if not (settings.PLATFORM_JWT_PUBLIC_KEY or settings.PLATFORM_JWT_SECRET):
            raise _refused("The token's header must name its signing key ('kid', from the platform's JWK Set).")
    if settings.PLATFORM_JWT_PUBLIC_KEY:
        return _public_key_and_algorithms(settings.PLATFORM_JWT_PUBLIC_KEY)
    if settings.PLATFORM_JWT_SECRET:
        return settings.PLATFORM_JWT_SECRET, ("HS256",)
    raise ImproperlyConfigured(
        "set PLATFORM_JWT_SECRET, PLATFORM_JWT_PUBLIC_KEY or PLATFORM_JWT_JWKS_URL to accept platform tokens"
    )


def _refused(detail: str) -> CredentialError:
    return CredentialError(detail, type_slug="invalid-credential", title="Invalid credential")


def _claim_text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_LENGTH:
        raise _refused(
            f"The token's {name!r} claim must be a non-empty string of at most {MAX_CLAIM_LENGTH} characters."
        )
    return value


def verify_platform_token(token: str) -> PlatformClaims:
    """Decode and check a platform token; raise CredentialError (401) saying what is wrong."""
    key, algorithms = verification_key(token)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            audience=settings.PLATFORM_JWT_AUDIENCE,
            issuer=settings.PLATFORM_JWT_ISSUER,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _refused("The token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise _refused(f"The token's audience is not {settings.PLATFORM_JWT_AUDIENCE!r}.") from exc
    except jwt.InvalidIssuerError as exc:
        raise _refused(f"The token's issuer is not {settings.PLATFORM_JWT_ISSUER!r}.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _refused(f"The token lacks the {exc.claim!r} claim.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _refused("The token is not valid yet (iat or nbf lies in the future).") from exc
    except jwt.InvalidSignatureError as exc:
        raise _refused("The token's signature does not verify.") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise _refused(f"The token must be signed with {' or '.join(algorithms)}.") from exc
    except jwt.DecodeError as exc:
        raise _refused("The bearer token is neither a platform token (JWT) nor an API key (bk_...).") from exc
    except jwt.InvalidTokenError as exc:
        raise _refused(f"The token is not valid: {exc}.") from exc

    issued_at, expires_at = claims["iat"], claims["exp"]
    if not all(isinstance(value, int | float) for value in (issued_at, expires_at)):
        raise _refused("The token's iat and exp must be numeric dates.")
    max_lifetime = int(settings.PLATFORM_JWT_MAX_LIFETIME)
    if expires_at - issued_at > max_lifetime:
        raise _refused(f"The token lives longer than the allowed {max_lifetime} seconds (exp - iat).")
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _refused("The token's 'roles' claim must be a list of strings.")
    return PlatformClaims(
        sub=_claim_text(claims, "sub"),
        tenant=_claim_text(claims, "tenant"),
        roles=frozenset(roles),
        jti=_claim_text(claims, "jti"),
        issued_at=int(issued_at),
        expires_at=int(expires_at),
        raw=claims,
    )


def consume_jti(claims: PlatformClaims) -> None:
    """With PLATFORM_JWT_SINGLE_USE, accept each `jti` once for as long as its token is valid."""
    if not settings.PLATFORM_JWT_SINGLE_USE:
        return
    digest = hashlib.sha256(f"{settings.PLATFORM_JWT_ISSUER}\x00{claims.jti}".encode()).hexdigest()
    # Kept until the token could no longer be accepted anyway (exp + skew).
    ttl = max(1, claims.expires_at + CLOCK_SKEW_SECONDS - int(time.time()))
    try:
        first_use = redis_client().set(redis_key("jwt-jti", digest), 1, nx=True, ex=ttl)
    except redis.RedisError as exc:
        raise TokenStoreUnavailable("cannot check single-use tokens: Redis is unavailable") from exc
    if not first_use:
        raise _refused("The token was already used (PLATFORM_JWT_SINGLE_USE refuses a jti seen before).")


def mint_platform_token(
    *,
    tenant: str,
    roles: Iterable[str],
    sub: str = "dev-user",
    lifetime: int | None = None,
    **extra_claims: Any,
) -> str:
    """An HS256 platform token signed with PLATFORM_JWT_SECRET (dev tools and tests)."""
    if not settings.PLATFORM_JWT_SECRET:
        raise ImproperlyConfigured("minting tokens needs PLATFORM_JWT_SECRET (HS256)")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.PLATFORM_JWT_ISSUER,
        "aud": settings.PLATFORM_JWT_AUDIENCE,
        "sub": sub,
        "tenant": tenant,
        "roles": list(roles),
        "iat": now,
        "exp": now + (lifetime if lifetime is not None else int(settings.PLATFORM_JWT_MAX_LIFETIME)),
        "jti": uuid.uuid4().hex,
    }
    claims.update(extra_claims)
    return jwt.encode(claims, settings.PLATFORM_JWT_SECRET, algorithm="HS256")
