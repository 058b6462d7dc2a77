"""Guards for outbound calls to hosts a tenant chose (a provider API base URL, an SMTP server,
a media URL).

A tenant must not be able to make Centro call its own private network or a cloud metadata
service (SSRF). Only addresses on the public internet pass (``ipaddress``' ``is_global`` plus
the IANA special-purpose blocks that older Pythons still call global, such as 192.0.0.0/24);
addresses that wrap an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``, Teredo ``2001::/32``) are judged by the IPv4 address they lead to.

The check is made where the connection is opened, on the very address connected to: the
clients built here (:func:`http_client` for httpx, :func:`guard_session` for requests,
:class:`SMTPBackend`) resolve the host once, refuse it unless every address passes, and connect
to a checked address, so each redirect hop is checked and a DNS answer that changes between the
check and the connection (DNS rebinding) changes nothing. :func:`check_public_url` checks a
URL when it is configured, to say early what will not work.

A developer's machine and the test suite (``ALLOW_PRIVATE_PROVIDER_HOSTS``) may also reach
loopback and private-network addresses, where the provider simulators and docker-compose
services run; link-local, shared (100.64.0.0/10) and every other address stay refused there too.
"""

import functools
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import httpcore
import httpx
import requests
import urllib3
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why."""


def _networks(*cidrs: str) -> tuple:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# IANA special-purpose blocks that are not globally reachable (RFC 6890 registries), listed
# because Python before 3.12.4/3.13 calls some of them global.
NOT_GLOBAL = _networks(
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",  # shared address space (carrier NAT; Alibaba's metadata 100.100.100.200)
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local (AWS, GCP and Azure metadata 169.254.169.254)
    "172.16.0.0/12",
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.192: Oracle Cloud metadata)
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/8",  # unspecified, loopback, IPv4-compatible, local NAT64 (wrappers are unwrapped first)
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)
# What a developer's machine may call besides: the simulators on loopback, docker-compose
# services on private networks.
DEVELOPMENT_NETWORKS = _networks(
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")


def _wrapped_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address leads to, or None when it wraps none."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in SIX_TO_FOUR:
        return [ip.sixtofour]
    if ip in TEREDO:
        server, client = ip.teredo
        return [server, client]
    return None


def _plainly_allowed(ip: Address, *, development: bool) -> bool:
    if development and any(ip in network for network in DEVELOPMENT_NETWORKS):
        return True
    return ip.is_global and not ip.is_multicast and not any(ip in n for n in NOT_GLOBAL)


def is_allowed_address(address: str, *, development: bool | None = None) -> bool:
    """Whether Centro may connect to ``address`` for a tenant (``development``: the
    loopback/private allowance, ``ALLOW_PRIVATE_PROVIDER_HOSTS`` by default)."""
    if development is None:
        development = settings.ALLOW_PRIVATE_PROVIDER_HOSTS
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = _wrapped_ipv4(ip)
        if wrapped is not None:
            return all(_plainly_allowed(v4, development=development) for v4 in wrapped)
    return _plainly_allowed(ip, development=development)


def _system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


# The DNS edge: (host, port) -> addresses, raising OSError (socket.gaierror) when the name does
# not resolve. Tests point it at a table of chosen answers, so no name is looked up for real.
resolver: Callable[[str, int], list[str]] = _system_resolver


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%")[0]))
    except ValueError:
        return None


def allowed_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``, every one of them checked.

    Raises :class:`UnsafeURL` when any address ``host`` resolves to is not allowed (a name that
    answers one public and one private address is refused whole), and ``socket.gaierror`` when
    it does not resolve (a network problem, which may pass)."""
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            answers = resolver(host, port)
        except UnicodeError as exc:  # an invalid international name
            raise socket.gaierror(socket.EAI_NONAME, f"invalid host name: {exc}") from exc
        addresses = list(dict.fromkeys(a.split("%")[0] for a in answers))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
    refused = [a for a in addresses if not is_allowed_address(a)]
    if refused:
        raise UnsafeURL(
            f"The host “{host}” is, or resolves to, a private or local address "
            f"({', '.join(refused)}), not one on the public internet; Centro only calls "
            "public hosts."
        )
    return addresses


def check_public_url(url: str) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is http(s) to an allowed host.

    For configuration time (a saved API base URL or SMTP host); the clients below check again,
    on each connection. Where private hosts are allowed (development), a host that does not
    resolve here passes: the connection will say."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"“{url}” is not an http:// or https:// URL with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL(f"“{url}” has an invalid port.") from exc
    try:
        allowed_addresses(parts.hostname, port)
    except OSError as exc:
        if not settings.ALLOW_PRIVATE_PROVIDER_HOSTS:
            raise UnsafeURL(f"The host “{parts.hostname}” cannot be resolved.") from exc


# --- httpx ------------------------------------------------------------------------------------


class _GuardedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's sockets, opened only to checked addresses (TLS still verifies the name)."""

    def __init__(self) -> None:
        self._system = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = allowed_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} cannot be resolved: {exc}") from exc
        error: Exception | None = None
        for address in addresses:
            try:
                return self._system.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error  # type: ignore[misc]  (addresses is never empty)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise UnsafeURL("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        self._system.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every guarded client: building one loads the CA bundle
    (about 90 ms), which a client made per request would pay on each provider call."""
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(verify=_ssl_context())
        # httpx has no parameter for httpcore's network backend: the pool is rebuilt with it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=_GuardedNetworkBackend(),
        )


class DownloadError(Exception):
    """A download that did not work; ``retryable`` ones (timeouts, 429, 5xx) may work later,
    the others (4xx, too large, a refused address) will not."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def too_large(size: int, limit: int) -> str:
    allowed = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return f"The file is {size} bytes, more than the {allowed} allowed."


def download(
    url: str,
    *,
    limit: int,
    timeout: httpx.Timeout | float,
    auth: tuple[str, str] | httpx.Auth | None = None,
) -> tuple[bytes, str]:
    """``(content, content type)`` of ``url``, through the private-address guard on every
    redirect hop, read in chunks and stopped past ``limit`` bytes; ``DownloadError`` says what
    went wrong and whether to try again."""
    try:
        with (
            http_client(timeout=timeout, follow_redirects=True, max_redirects=5) as http,
            http.stream("GET", url, auth=auth) as response,
        ):
            status = response.status_code
            if status == 429 or status >= 500:
                raise DownloadError(f"The server answered {status}.", retryable=True)
            if status >= 400:
                raise DownloadError(f"The server answered {status}.", retryable=False)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise DownloadError(too_large(int(declared), limit), retryable=False)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise DownloadError(too_large(size, limit), retryable=False)
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
    except UnsafeURL as exc:
        raise DownloadError(f"The URL is not allowed: {exc}", retryable=False) from exc
    except httpx.HTTPError as exc:
        raise DownloadError(
            f"It could not be downloaded ({type(exc).__name__}).", retryable=True
        ) from exc
    return b"".join(chunks), content_type


def http_client(**kwargs) -> httpx.Client:
    """An httpx client for tenant-chosen URLs: every connection, redirects included, goes
    only to allowed addresses (and straight there: no proxy from the environment, which
    would resolve the name where the guard cannot see)."""
    return httpx.Client(transport=_GuardedTransport(), **kwargs)


# --- requests (the twilio SDK, anymail's ESP backends) -----------------------------------------


class _GuardedConnection:
    """A urllib3 connection that connects only to checked addresses of its host."""

    def _new_conn(self):
        host = self._dns_host
        try:
            addresses = allowed_addresses(host, self.port)
        except OSError as exc:
            raise NameResolutionError(host, self, exc) from exc
        error: Exception | None = None
        for address in addresses:
            # urllib3 connects to ``_dns_host``; TLS then verifies ``host``, read afterwards.
            self._dns_host = address
            try:
                return super()._new_conn()
            except (NewConnectionError, ConnectTimeoutError) as exc:
                error = exc
            finally:
                self._dns_host = host
        raise error  # type: ignore[misc]


class _GuardedHTTPConnection(_GuardedConnection, urllib3.connection.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    pass


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to allowed addresses; each request
    (redirects are sent through here again) is checked for its scheme."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        parts = urlsplit(request.url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafeURL(f"“{request.url}” is not an http:// or https:// URL with a host.")
        if select_proxy(request.url, kwargs.get("proxies") or {}):
            # An operator's egress proxy connects for us: check the name here instead.
            check_public_url(request.url)
        return super().send(request, **kwargs)


def guard_session(session: requests.Session, *, pool_maxsize: int = 10) -> requests.Session:
    """Route every request of ``session`` through :class:`GuardedAdapter`."""
    adapter = GuardedAdapter(pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- SMTP -------------------------------------------------------------------------------------


class _GuardedSocket:
    """smtplib's socket, opened only to a checked address (TLS still verifies the name)."""

    def _get_socket(self, host, port, timeout):
        error: OSError | None = None
        for address in allowed_addresses(host, port):
            try:
                return super()._get_socket(address, port, timeout)
            except OSError as exc:
                error = exc
        raise error  # type: ignore[misc]


class _GuardedSMTP(_GuardedSocket, smtplib.SMTP):
    pass


class _GuardedSMTPSSL(_GuardedSocket, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """Django's SMTP backend for a tenant's own mail server, through the address guard."""

    @property
    def connection_class(self):
        return _GuardedSMTPSSL if self.use_ssl else _GuardedSMTP
