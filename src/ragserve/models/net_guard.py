"""The private-address guard: an agent must not make ragserve reach into its own network.

A URL or host written in an agent's DSL (Crawler, SearXNG, ExeSQL, Invoke...) is checked
before ragserve connects: every address the host resolves to must be public (not loopback,
private, link-local, such as the cloud metadata service at 169.254.169.254, multicast,
reserved or unspecified). The setting ``agent_allow_private_urls`` turns the check off (for a
deployment whose agents are meant to reach internal services, and for tests). Base URLs from
ragserve's own settings are trusted and not checked.

``check_host`` returns the address it checked: a caller that can connect to an address (ExeSQL)
does, so a DNS answer that changes afterwards cannot move it inside. HTTP fetches (Crawler,
SearXNG) connect by name, so that TLS can verify the certificate; a name whose DNS answer
changes between the check and the connection (DNS rebinding) is not caught there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ragserve.errors import ArgumentError


class PrivateAddressError(ArgumentError):
    """The host is (or resolves to) an address an agent may not reach."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, *, allow_private: bool, port: int | None = None) -> str:
    """Raise ``PrivateAddressError`` unless ``allow_private`` or every address of ``host`` is
    public. A host that does not resolve is refused too (the caller would fail anyway).

    Returns the address to connect to: the first one checked (so a DNS answer that changes
    afterwards cannot move the connection to a private address), or ``host`` itself when
    private addresses are allowed."""
    if allow_private:
        return host
    if not host:
        raise PrivateAddressError("The address has no host.")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise PrivateAddressError(f"The host `{host}` does not resolve.") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise PrivateAddressError(
                f"The host `{host}` is a private address ({address}); agents may not reach it "
                "(setting `agent_allow_private_urls`)."
            )
    return addresses[0]


def check_url(url: str, *, allow_private: bool) -> None:
    """``check_host`` for an http(s) URL; other schemes are refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise PrivateAddressError(f"Only http and https URLs may be fetched, not `{url}`.")
    check_host(parts.hostname or "", allow_private=allow_private, port=parts.port)
