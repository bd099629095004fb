"""Where a webhook may send: an http or https URL whose host resolves only to public
addresses. Checked when a webhook is saved, and again before every attempt (a name may
resolve elsewhere by then); the deliverer then connects to the addresses it checked,
never to a fresh resolution of the name."""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from webhooks.rules import URL_MAX

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services: refused whatever the settings say.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

INVALID = "invalid"
FORBIDDEN = "webhook_url_forbidden"
UNRESOLVABLE = "webhook_url_unresolvable"

# getaddrinfo cannot be given a timeout; it runs here so the caller can stop waiting.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-resolve")


class UrlRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]


def split(url: object) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of a URL a webhook may have, else UrlRefused."""
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused(INVALID, "A URL is required.")
    url = url.strip()
    if len(url) > URL_MAX:
        raise UrlRefused(INVALID, f"At most {URL_MAX} characters.")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UrlRefused(INVALID, "A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(INVALID, "Not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused(FORBIDDEN, "Only http and https URLs may receive webhooks.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused(INVALID, "The URL needs a host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(INVALID, "No credentials in the URL: the signature says who sent it.")
    try:
        host.encode("idna")
    except UnicodeError:
        raise UrlRefused(INVALID, "The host name is not valid.") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64)."""
    if address.version != 6:
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        found.append(address.teredo[1])
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [item for item in found if item is not None]


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not receive webhooks, or None when it may."""
    for candidate in (*_embedded_ipv4(address), address):
        if candidate in METADATA:
            return "a cloud metadata address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_unspecified:
            return "an unspecified address"
        if allow_private:
            continue
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_reserved:
            return "a reserved address"
        if candidate.is_private:
            return "a private address"
        if not candidate.is_global:
            return "a reserved address"
    return None


def resolve(host: str, port: int, timeout: float) -> tuple[str, ...]:
    """The addresses `host` stands for (itself when it is an address)."""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = lookup.result(timeout=max(timeout, 0.1))
    except FutureTimeout:
        raise UrlRefused(UNRESOLVABLE, f"{host} did not resolve in time.") from None
    except (OSError, UnicodeError):
        raise UrlRefused(UNRESOLVABLE, f"{host} does not resolve to an address.") from None
    found = list(dict.fromkeys(str(answer[4][0]).split("%")[0] for answer in answers))
    if not found:
        raise UrlRefused(UNRESOLVABLE, f"{host} does not resolve to an address.")
    return tuple(found)


def check(url: object, *, allow_private: bool, timeout: float = 5.0) -> Target:
    """The URL's target with its addresses, every one of them allowed; else UrlRefused."""
    scheme, host, port, path = split(url)
    addresses = resolve(host, port, timeout)
    for address in addresses:
        why = refusal(ipaddress.ip_address(address), allow_private=allow_private)
        if why:
            shown = host if host == address else f"{host} ({address})"
            raise UrlRefused(FORBIDDEN, f"{shown} is {why}; webhooks may not be sent there.")
    return Target(scheme, host, port, path, addresses)
