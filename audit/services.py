"""The one way an audit row is written."""

import ipaddress

from django.conf import settings

from audit.models import AuditEvent


def audit_record(
    *,
    actor,
    action: str,
    board_id: int | None = None,
    target_type: str = "",
    target_id: object = "",
    ip: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Record `action` by `actor` (None for an anonymous attempt such as a failed login)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        board_id=board_id,
        target_type=target_type,
        target_id=str(target_id) if target_id not in (None, "") else "",
        ip=ip or None,
        details=details or {},
    )


def request_ip(request) -> str | None:
    """The client's address: the peer, or, when the peer is one of TRUSTED_PROXIES (the
    same setting the rate limits use), the right-most X-Forwarded-For hop that is not
    a trusted proxy. Hops left of that are whatever the client chose to send."""
    if request is None:
        return None
    meta = getattr(request, "META", {})
    address = _ip(meta.get("REMOTE_ADDR"))
    networks = _trusted_networks()
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if not (address and networks and forwarded and _in(address, networks)):
        return address
    for hop in reversed(forwarded.split(",")):
        hop_ip = _ip(hop)
        if hop_ip is None:
            break  # garbage: keep the last address that could be trusted
        address = hop_ip
        if not _in(hop_ip, networks):
            break
    return address


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _trusted_networks() -> tuple:
    proxies = getattr(settings, "TRUSTED_PROXIES", None) or []
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in proxies)


def _in(address: str, networks: tuple) -> bool:
    return any(ipaddress.ip_address(address) in network for network in networks)
