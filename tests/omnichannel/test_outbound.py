"""Tenant-chosen hosts: private and local addresses are refused in deployments (SSRF)."""

import pytest

from omnichannel.outbound import UnsafeURL, check_public_url


@pytest.fixture
def deployment(settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://localhost:8000/2010-04-01",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8000",
        "http://0.0.0.0",
    ],
)
def test_it_refuses_private_and_local_hosts_in_a_deployment(deployment, url):
    with pytest.raises(UnsafeURL, match="private or local address"):
        check_public_url(url)


@pytest.mark.parametrize("url", ["ftp://api.twilio.com", "file:///etc/passwd", "https://"])
def test_it_refuses_urls_that_are_not_http(deployment, url):
    with pytest.raises(UnsafeURL, match="not an http"):
        check_public_url(url)


def test_it_accepts_a_public_address(deployment):
    check_public_url("https://8.8.8.8/2010-04-01")


def test_it_refuses_a_host_that_does_not_resolve(deployment):
    with pytest.raises(UnsafeURL, match="cannot be resolved"):
        check_public_url("https://no-such-host.invalid")


def test_it_allows_local_hosts_where_the_simulators_run(settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = True
    check_public_url("http://127.0.0.1:8765")
