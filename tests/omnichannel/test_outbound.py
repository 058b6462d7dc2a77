"""Tenant-chosen hosts: only public addresses are called in deployments (SSRF), on every
connection, redirects included. Host names resolve through the ``fake_dns`` fixture: nothing
is looked up for real, and nothing connects to the addresses refused here."""

import re

import httpx
import pytest
import requests

from omnichannel.outbound import (
    SMTPBackend,
    UnsafeURL,
    check_public_url,
    guard_session,
    http_client,
    is_allowed_address,
)
from tests.fakes.redirect import RedirectServer

# Names (for the fake DNS) -> the address they resolve to. Metadata services and the
# addresses that wrap them: refused in deployments AND on developers' machines.
METADATA = {
    "alibaba-metadata.test": "100.100.100.200",  # shared address space 100.64.0.0/10
    "cgnat.test": "100.64.0.1",
    "oracle-metadata.test": "192.0.0.192",  # 192.0.0.0/24, which Python 3.12.1 calls global
    "aws-metadata.test": "169.254.169.254",
    "six-to-four.test": "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
    "six-to-four-shared.test": "2002:6464:64c8::",  # 6to4 wrapping 100.100.100.200
    "mapped.test": "::ffff:169.254.169.254",
    "mapped-shared.test": "::ffff:100.100.100.200",
    "nat64.test": "64:ff9b::a9fe:a9fe",
    # Teredo: client 169.254.169.254, stored inverted (0x5601 = ~0xa9fe).
    "teredo.test": "2001:0:4136:e378:8000:63bf:5601:5601",
    "link-local6.test": "fe80::1",
}
# Refused in deployments only: the provider simulators and docker-compose services live here.
PRIVATE = {
    "loopback.test": "127.0.0.1",
    "private.test": "10.1.2.3",
    "private-172.test": "172.16.5.4",
    "ula.test": "fd00::1",
    "mapped-loopback.test": "::ffff:127.0.0.1",
}


@pytest.fixture
def deployment(settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "http://169.254.169.254/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://192.0.0.192/opc/v2/instance/",
        "http://[::1]:8000",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://0.0.0.0",
    ],
)
def test_it_refuses_private_and_local_addresses_in_a_deployment(deployment, url):
    with pytest.raises(UnsafeURL, match="private or local address"):
        check_public_url(url)


@pytest.mark.parametrize(("name", "address"), [*METADATA.items(), *PRIVATE.items()])
def test_it_refuses_a_host_that_resolves_to_a_non_public_address(
    deployment, fake_dns, name, address
):
    fake_dns[name] = [address]

    with pytest.raises(UnsafeURL, match=re.escape(f"“{name}” is, or resolves to")) as refused:
        check_public_url(f"https://{name}/v1")

    assert address in str(refused.value)
    assert "Centro only calls public hosts" in str(refused.value)


@pytest.mark.parametrize(("name", "address"), METADATA.items())
def test_it_refuses_metadata_addresses_even_where_private_hosts_are_allowed(
    settings, fake_dns, name, address
):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = True
    fake_dns[name] = [address]

    with pytest.raises(UnsafeURL, match=re.escape(address)):
        check_public_url(f"http://{name}/latest/meta-data")


@pytest.mark.parametrize(("name", "address"), PRIVATE.items())
def test_it_allows_loopback_and_private_networks_where_the_simulators_run(
    settings, fake_dns, name, address
):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = True
    fake_dns[name] = [address]

    check_public_url(f"http://{name}:8765/")


def test_it_refuses_a_host_with_one_public_and_one_private_address(deployment, fake_dns):
    fake_dns["mixed.test"] = ["93.184.215.14", "100.100.100.200"]

    with pytest.raises(UnsafeURL, match=re.escape("100.100.100.200")):
        check_public_url("https://mixed.test/")


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_it_allows_public_addresses_and_what_wraps_them(deployment, address):
    assert is_allowed_address(address)


def test_it_accepts_a_host_with_public_addresses(deployment, fake_dns):
    fake_dns["api.provider.test"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    check_public_url("https://api.provider.test/2010-04-01")


@pytest.mark.parametrize("url", ["ftp://api.twilio.com", "file:///etc/passwd", "https://"])
def test_it_refuses_urls_that_are_not_http(deployment, url):
    with pytest.raises(UnsafeURL, match="not an http"):
        check_public_url(url)


def test_it_refuses_a_host_that_does_not_resolve(deployment, fake_dns):
    with pytest.raises(UnsafeURL, match="cannot be resolved"):
        check_public_url("https://no-such-host.invalid")


def test_it_allows_local_hosts_where_the_simulators_run(settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = True
    check_public_url("http://127.0.0.1:8765")


# --- the clients: checked where they connect ---------------------------------------------------


def _httpx_get(url: str) -> None:
    with http_client(timeout=5) as client:
        client.get(url)


def _requests_get(url: str) -> None:
    with guard_session(requests.Session()) as session:
        session.get(url, timeout=5)


def _smtp_open(url: str) -> None:
    host = url.split("//")[1].split("/")[0]
    SMTPBackend(alias="tenant-smtp", host=host, port=25, timeout=5, fail_silently=False).open()


@pytest.mark.parametrize("connect", [_httpx_get, _requests_get, _smtp_open])
@pytest.mark.parametrize("name", ["alibaba-metadata.test", "oracle-metadata.test", "teredo.test"])
def test_each_client_refuses_to_connect_to_a_metadata_address(fake_dns, connect, name):
    fake_dns[name] = [METADATA[name]]

    with pytest.raises(UnsafeURL, match=re.escape(METADATA[name])):
        connect(f"http://{name}/latest/meta-data")


@pytest.mark.parametrize("connect", [_httpx_get, _requests_get, _smtp_open])
def test_each_client_checks_the_address_it_connects_to_not_an_earlier_answer(fake_dns, connect):
    """DNS rebinding: the name passed the check, then answers a metadata address."""
    fake_dns["rebind.test"] = ["127.0.0.1"]
    check_public_url("http://rebind.test/")
    fake_dns["rebind.test"] = ["100.100.100.200"]

    with pytest.raises(UnsafeURL, match=re.escape("100.100.100.200")):
        connect("http://rebind.test/latest/meta-data")


@pytest.fixture
def redirect_to(fake_dns):
    """``redirect_to(location, status)``: a (test-allowed) loopback host redirecting there."""
    fake_dns["metadata.test"] = ["100.100.100.200"]
    servers = []

    def make(location: str, status: int = 302) -> RedirectServer:
        servers.append(RedirectServer(location, status).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.mark.parametrize(
    "location", ["http://metadata.test/latest/meta-data", "http://169.254.169.254/latest/"]
)
def test_httpx_refuses_a_redirect_to_a_metadata_address(redirect_to, location):
    server = redirect_to(location)

    with (
        http_client(timeout=5, follow_redirects=True) as client,
        pytest.raises(UnsafeURL, match="private or local address"),
    ):
        client.get(f"{server.url}/media/photo.jpg")

    assert server.requests == [("GET", "/media/photo.jpg")]


@pytest.mark.parametrize("status", [302, 307])
def test_requests_refuses_a_redirect_to_a_metadata_address(redirect_to, status):
    """anymail's ESP backends post through requests, which follows redirects (307 re-posts)."""
    server = redirect_to("http://metadata.test/email", status)

    with (
        guard_session(requests.Session()) as session,
        pytest.raises(UnsafeURL, match=re.escape("100.100.100.200")),
    ):
        session.post(f"{server.url}/email", json={"To": "ana@example.com"}, timeout=5)

    assert server.requests == [("POST", "/email")]


def test_the_clients_still_reach_an_allowed_host(redirect_to):
    server = redirect_to("/elsewhere")

    with http_client(timeout=5) as client:
        assert client.get(f"{server.url}/start").status_code == 302
    with guard_session(requests.Session()) as session:
        assert session.get(f"{server.url}/start", allow_redirects=False).status_code == 302
    assert server.requests == [("GET", "/start"), ("GET", "/start")]


def test_a_name_that_does_not_resolve_is_a_connection_error_not_a_refusal(fake_dns):
    """A DNS outage may pass: callers retry connection errors and give up on refusals."""
    with pytest.raises(httpx.ConnectError):
        _httpx_get("http://gone.test/")
    with pytest.raises(requests.ConnectionError):
        _requests_get("http://gone.test/")
