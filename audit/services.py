"""The one way an audit row is written."""

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


def audit_records(
    *, actor, action: str, target_type: str = "", records: list[dict]
) -> list[AuditEvent]:
    """`audit_record` for the same action on several targets at once, in one insert: each
    of `records` gives a target's `board_id`, `target_id` and `details`."""
    if not records:
        return []
    return AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=actor if getattr(actor, "pk", None) else None,
            action=action,
            board_id=record.get("board_id"),
            target_type=target_type,
            target_id=str(record.get("target_id", "")),
            details=record.get("details") or {},
        )
        for record in records
    )
