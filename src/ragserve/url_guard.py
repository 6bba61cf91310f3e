"""The guard for connections the server makes to places its users name (MCP servers, the
agents' Invoke, Crawler, SearXNG, ExeSQL and Email): every address the host is or resolves to
must be public — not loopback, private, link-local (such as the cloud metadata service at
169.254.169.254), shared, reserved, unspecified or multicast — unless ``allow_private_urls`` is
set (for deployments meant to reach internal services, and for tests). URLs must be http(s)
with a host. Base URLs from ragserve's own settings are trusted and not checked.

``check_host`` returns the address it checked: a caller that can connect to an address
(ExeSQL, Email) does, so a DNS answer that changes afterwards cannot move it inside. HTTP
clients connect by name (so TLS can verify the certificate); a name whose DNS answer changes
between the check and the connection (DNS rebinding) is not caught there. Clients must not
follow redirects to other hosts without checking each hop."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ragserve.errors import ArgumentError


class UrlRefused(ArgumentError):
    """The URL or host may not be reached; the message says why, fit for the user."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, *, allow_private: bool, port: int | None = None) -> str:
    """Raise ``UrlRefused`` unless ``allow_private`` or every address of ``host`` is public (a
    host that does not resolve is refused too); the address to connect to (``host`` itself
    when private addresses are allowed)."""
    if allow_private:
        return host
    if not host:
        raise UrlRefused("The address has no host.")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host {host} cannot be resolved.") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise UrlRefused(
                f"The host {host} is a private address ({address}), which may not be "
                "reached (set allow_private_urls to allow it)."
            )
    return addresses[0]


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) with a host, or whose host ``check_host`` refuses."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise UrlRefused("The URL's port is not a number from 0 to 65535.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("The URL must be an http:// or https:// URL with a host.")
    check_host(parts.hostname, allow_private=allow_private, port=port or 80)
