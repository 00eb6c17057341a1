"""Idempotency-Key on every API POST, with Stripe's semantics, scoped to (tenant, caller).

How exactly one effect is guaranteed: the request runs inside one transaction that first
inserts its IdempotencyRecord (unique per tenant, caller and key), then runs the view, then
stores the response in that record, and commits both together. A concurrent duplicate's
insert blocks on the unique index until the first transaction ends: on commit it finds the
stored response and replays it; on rollback its insert succeeds and it runs itself. If
the first takes longer than IDEMPOTENCY_WAIT_SECONDS, the duplicate gets a 409. A crash
rolls back the effect and the record together, so no key is ever stuck "in progress".

A view may mark its answer with `response.idempotency_redact = ("secret",)`: those top-level
JSON fields are stored (and replayed) as null, so no secret shown once sits in this table.

Stored and replayed: every answer below 500 except the ones that mean "not processed,
try again" (401, 403, 408, 409, 423, 425, 429). A 5xx is not stored: its transaction is
rolled back, so the key is free for a retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.core.api.middleware import is_api_request
from apps.core.api.problems import problem_response
from apps.tenants.api.authentication import Credential, resolve_credential
from apps.tenants.api.tokens import CredentialError, TokenStoreUnavailable
from apps.tenants.models import IdempotencyRecord
from apps.tenants.services import idempotency_retention

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[!-~]{1,255}")  # visible ASCII, no spaces
NOT_STORED = frozenset({401, 403, 408, 409, 423, 425, 429})
REPLAYED_HEADERS = ("Content-Type", "Location", "Content-Language")
LOCK_NOT_AVAILABLE = "55P03"


class IdempotencyMiddleware:
    """Runs keyed API POSTs exactly once; see the module docstring."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not is_api_request(request):
            return self.get_response(request)
        try:
            credential = resolve_credential(request)
        except (CredentialError, TokenStoreUnavailable):
            credential = None  # the view answers the 401/403
        if credential is None:
            return self.get_response(request)
        if not KEY_PATTERN.fullmatch(key):
            return problem_response(
                400,
                type_slug="invalid-idempotency-key",
                title="Invalid Idempotency-Key",
                detail="An Idempotency-Key is 1 to 255 visible ASCII characters without spaces.",
            )
        try:
            body = request.body
        except RequestDataTooBig:
            return problem_response(413, detail="The request body is too large.")
        return self._run_once(request, credential, key, request_fingerprint(request, body))

    def _run_once(self, request: HttpRequest, credential: Credential, key: str, fingerprint: str) -> HttpResponse:
        with transaction.atomic():
            try:
                claim = _claim(credential, key, fingerprint, request)
            except _StillRunning:
                transaction.set_rollback(True)  # the timed-out claim aborted the transaction
                return problem_response(
                    409,
                    type_slug="idempotency-key-in-progress",
                    title="Request in progress",
                    detail="A request with this Idempotency-Key is still being processed; retry later.",
                )
            if claim.response_status is not None:  # an earlier request's stored answer
                transaction.set_rollback(True)
                if claim.fingerprint != fingerprint:
                    return problem_response(
                        422,
                        type_slug="idempotency-key-reused",
                        title="Idempotency-Key reused",
                        detail=f"This Idempotency-Key was used with a different request ({claim.method} "
                        f"{claim.path} with another body); use a new key for a new request.",
                    )
                return _replay(claim)

            effects = transaction.savepoint()
            response = self.get_response(request)
            if response.status_code >= 400:
                # An error answer must leave nothing behind, even if the view wrote something.
                transaction.savepoint_rollback(effects)
                transaction.set_rollback(False)
            else:
                transaction.savepoint_commit(effects)
            if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
                transaction.set_rollback(True)  # no record: the key stays free
                return response
            _store(claim, response)
            return response


class _StillRunning(Exception):
    pass


def request_fingerprint(request: HttpRequest, body: bytes) -> str:
    """Method, path and body; JSON bodies are compared by content, not by spacing or key order."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode() + b"\x00")
    digest.update(canonical)
    return digest.hexdigest()


# One round trip: the claim's lock_timeout is set around the INSERT only (the previous value
# kept in a transaction-local setting and restored after it); ON CONFLICT DO NOTHING waits, like
# a plain INSERT, for a concurrent transaction holding the same key and then yields no row.
_CLAIM_SQL = """
SELECT set_config('billing.lock_timeout_before_claim', current_setting('lock_timeout'), true);
SELECT set_config('lock_timeout', %s, true);
INSERT INTO {table} (tenant_id, caller, key, fingerprint, method, path, response_headers, response_body, created_at)
VALUES (%s, %s, %s, %s, %s, %s, '{{}}'::jsonb, ''::bytea, %s)
ON CONFLICT (tenant_id, caller, key) DO NOTHING RETURNING id;
SELECT set_config('lock_timeout', current_setting('billing.lock_timeout_before_claim'), true)
"""


def _claim(credential: Credential, key: str, fingerprint: str, request: HttpRequest) -> IdempotencyRecord:
    """Insert our record (waiting behind a concurrent holder of the key) or return the stored one.

    Runs in the request's transaction; when the wait times out that transaction is aborted
    (the caller rolls it back and answers 409).
    """
    wait_ms = int(float(settings.IDEMPOTENCY_WAIT_SECONDS) * 1000)
    scope = {"tenant": credential.tenant, "caller": credential.principal.caller, "key": key}
    record = IdempotencyRecord(
        **scope, fingerprint=fingerprint, method=request.method or "POST", path=request.get_full_path()[:2000]
    )
    sql = _CLAIM_SQL.format(table=connection.ops.quote_name(IdempotencyRecord._meta.db_table))
    values: list[Any] = [record.tenant_id, record.caller, record.key, record.fingerprint, record.method, record.path]
    for _attempt in range(3):
        record.created_at = timezone.now()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [f"{wait_ms}ms", *values, record.created_at])
                cursor.nextset()
                cursor.nextset()
                row = cursor.fetchone()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise _StillRunning from exc
            raise
        if row is not None:
            record.pk = row[0]
            record._state.adding = False
            record._state.db = connection.alias
            return record
        existing = IdempotencyRecord.objects.filter(**scope).first()
        if existing is None:  # pruned in between: claim again
            continue
        if existing.created_at < timezone.now() - idempotency_retention():
            existing.delete()  # past retention: the key may be used afresh
            continue
        return existing
    raise _StillRunning


def _store(record: IdempotencyRecord, response: HttpResponse) -> None:
    record.response_status = response.status_code
    record.response_headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    record.response_body = _redacted(response.content, getattr(response, "idempotency_redact", ()))
    with connection.cursor() as cursor:  # raw: on every keyed POST, and the ORM's UPDATE cost more to build
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(IdempotencyRecord._meta.db_table)}"  # noqa: S608 - a table name
            " SET response_status = %s, response_headers = %s::jsonb, response_body = %s WHERE id = %s",
            [record.response_status, json.dumps(record.response_headers), record.response_body, record.pk],
        )


def _redacted(body: bytes, fields: tuple[str, ...]) -> bytes:
    """The body with the named top-level JSON fields set to null (secrets are never stored)."""
    if not fields:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return b""
    if isinstance(document, dict):
        document.update({name: None for name in fields if name in document})
    return json.dumps(document).encode()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    assert record.response_status is not None
    response = HttpResponse(bytes(record.response_body), status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response
