"""Who acts: a staff user, an API principal, or the system (dunning, webhooks).

Services take `actor` and check permissions with `require_permission`; `None` is the system
itself (beat jobs, provider callbacks), which is trusted.
"""

from __future__ import annotations

from typing import Any, Protocol

from apps.core.errors import NotPermitted


class Actor(Protocol):
    def has_perm(self, perm: str, obj: Any = None) -> bool: ...


def require_permission(actor: Actor | None, perm: str, action: str) -> None:
    """Raise NotPermitted unless `actor` holds `perm` (`app_label.codename`)."""
    if actor is None:
        return
    if not actor.has_perm(perm):
        raise NotPermitted(f"your role does not allow you to {action}")


def actor_label(actor: Actor | None) -> str:
    """A short description of the actor for records and events ("system" when None)."""
    if actor is None:
        return "system"
    return str(getattr(actor, "username", None) or getattr(actor, "sub", None) or actor)
