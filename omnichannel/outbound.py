"""Guards for outbound HTTP to hosts a tenant chose (a provider API base URL, a media URL).

A tenant must not be able to make Centro call its own private network (SSRF). Deployments
refuse hosts that are, or resolve to, private, loopback, link-local or reserved addresses;
a developer's machine (the local provider simulators) and the test suite allow them through
``ALLOW_PRIVATE_PROVIDER_HOSTS``.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_public_url(url: str) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is http(s) to a public host (or private hosts
    are allowed here). Checked again right before each call, as DNS answers can change."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"“{url}” is not an http:// or https:// URL with a host.")
    if settings.ALLOW_PRIVATE_PROVIDER_HOSTS:
        return
    host = parts.hostname
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443)}
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host “{host}” cannot be resolved.") from exc
    private = sorted(a for a in addresses if not _is_public(a.split("%")[0]))
    if private:
        raise UnsafeURL(
            f"The host “{host}” is a private or local address ({', '.join(private)}); "
            "Centro only calls public hosts."
        )
