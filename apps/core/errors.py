"""Domain errors raised by services; the API turns them into problem+json, the admin into messages.

Each carries a stable `code` (for clients) and, where it concerns one input, a `field`.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. HTTP 400 unless a subclass says otherwise."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationFailed(DomainError):
    """Input that breaks a rule (amount too precise, currency mismatch, unknown invoice...)."""

    code = "validation_failed"


class InvalidTransition(DomainError):
    """A state change that the object's current state does not allow (finalizing a paid invoice)."""

    status = 409
    code = "invalid_transition"


class NotPermitted(DomainError):
    """The actor's role does not allow this change."""

    status = 403
    code = "not_permitted"


class NotFound(DomainError):
    """An id that does not exist in this tenant."""

    status = 404
    code = "not_found"
