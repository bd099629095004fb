"""Who is asking, read from a request or an ASGI scope: the one client-address rule and
the one bearer-token parser every surface uses."""

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

# The rate-limit key of a client whose address cannot be known.
UNKNOWN_ADDRESS = "unknown"


@functools.lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in proxies)


def _trusted(address: str, networks: tuple) -> bool:
    if not address:
        return True  # a Unix socket: the peer is on this machine, the proxy itself
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _bucket(address: str) -> str | None:
    """The IPv4 address, or the /64 block of an IPv6 address (one subscriber's block: the
    rest of an IPv6 address is the client's to choose); None for no address at all."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def client_ip(remote_addr: str | None, forwarded_for: str | None) -> str | None:
    """The client's address: the peer, or — when the peer is one of TRUSTED_PROXIES —
    the right-most X-Forwarded-For hop that is not a trusted proxy. Hops left of that
    are whatever the client chose to send, so they never count."""
    address = (remote_addr or "").strip()
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if networks and forwarded_for and _trusted(address, networks):
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage in the header: keep the last address we could trust
            address = hop
            if not _trusted(hop, networks):
                break
    return _bucket(address)


def request_ip(request: HttpRequest | None) -> str | None:
    """The client address of a request, as the rate limits and the audit log both see it."""
    if request is None:
        return None
    meta = getattr(request, "META", {})
    return client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"))


def bearer_secret(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header. None when the header does
    not name the Bearer scheme (absent, or another scheme: not ours to judge); '' when it
    does but holds no single token of ASCII characters (nothing, two words, other
    characters), which every surface refuses as a bad token."""
    parts = (authorization or "").split()
    if not parts or parts[0].lower() != "bearer":
        return None
    if len(parts) != 2 or not parts[1].isascii():
        return ""
    return parts[1]


def scope_header(scope: dict, name: bytes) -> str | None:
    """One header of an ASGI scope (the first, as Django's request.META keeps it)."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def scope_ip(scope: dict) -> str | None:
    """The client address of an ASGI connection, by the same rule as `request_ip`."""
    client = scope.get("client") or ("", 0)
    return client_ip(client[0], scope_header(scope, b"x-forwarded-for"))
