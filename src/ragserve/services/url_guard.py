"""The guard for requests the server makes to URLs its users give (MCP servers today; the
Invoke component and other fetchers should use it too): the URL must be http(s) with a host,
and unless ``allow_private_urls`` is set, every address the host is or resolves to must be
public, so that users cannot make the server probe its own network (SSRF).

The check resolves the name once, before connecting; a client that resolves it again may get
another answer (DNS rebinding), which this does not catch (docs/configuration.md). Clients must
not follow redirects to other hosts, or must check each hop."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    """The URL may not be fetched; ``str()`` says why, fit for the user."""


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) with a host, or (unless ``allow_private``) whose host is
    or resolves to an address that is not global (private, loopback, link-local, shared,
    reserved, unspecified) or is multicast."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise UrlRefused("The URL's port is not a number from 0 to 65535.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("The URL must be an http:// or https:// URL with a host.")
    if allow_private:
        return
    host = parts.hostname
    try:
        found = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The URL's host {host} cannot be resolved.") from None
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise UrlRefused(
                f"The URL's host {host} is not a public address "
                "(set allow_private_urls to allow it)."
            )
