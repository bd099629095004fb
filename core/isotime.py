"""How the API writes a moment: ISO 8601 with an offset (design rule 6)."""

from datetime import datetime, tzinfo

from django.utils import timezone


def iso_datetime(moment: datetime | None, zone: tzinfo | None = None) -> str | None:
    """`moment` in `zone` (the current time zone if None), UTC written as Z: what DRF's
    DateTimeField writes, without building a field per value."""
    if moment is None:
        return None
    if zone is None:
        zone = timezone.get_current_timezone()
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
