"""SSRF guard: webhook URLs must resolve to public addresses (unless WEBHOOK_ALLOW_PRIVATE_TARGETS).

Checked when an endpoint is saved and again before every delivery (DNS may have changed).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeTarget(ValueError):
    """A webhook URL that is not http(s) or resolves to a non-public address."""


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Raise UnsafeTarget unless `url` is http(s) to a host whose every address is public."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeTarget("the URL must be http:// or https:// with a host name")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL must not carry credentials")
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS if allow_private is None else allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {parts.hostname} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if _forbidden(address):
            raise UnsafeTarget(f"the host {parts.hostname} resolves to a non-public address ({address})")
