"""Which addresses may receive webhooks, IPv4 and IPv6 and the IPv4 inside IPv6."""

import ipaddress

import pytest

from webhooks.addresses import UrlRefused, check, refusal, split


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ],
)
def test_refused(address, why):
    assert why in refusal(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None


def test_allowing_private_addresses_keeps_metadata_and_multicast_out():
    allowed = lambda text: refusal(ipaddress.ip_address(text), allow_private=True)  # noqa: E731
    assert allowed("127.0.0.1") is None and allowed("10.0.0.1") is None
    assert allowed("fe80::1") is None
    assert "metadata" in allowed("169.254.169.254")
    assert "metadata" in allowed("::ffff:169.254.169.254")
    assert "multicast" in allowed("239.1.1.1")


def test_split_keeps_the_path_and_query_and_defaults_the_port():
    assert split("HTTPS://Example.org/a/b?c=d#frag") == ("https", "example.org", 443, "/a/b?c=d")
    assert split("http://[::1]:8080") == ("http", "::1", 8080, "/")


@pytest.mark.parametrize(
    "url", ["http://exa mple.org/", "http://example.org/\n", "https://:80/", "//example.org/"]
)
def test_malformed(url):
    with pytest.raises(UrlRefused):
        check(url, allow_private=False)
