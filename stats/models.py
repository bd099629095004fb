from django.conf import settings
from django.db import models


class RefusedMove(models.Model):
    """A move the board refused (WIP limit, someone else's claim, a stale version, a
    review gate).
    Nothing else records these: the refused write itself is rolled back."""

    class Reason(models.TextChoices):
        WIP_LIMIT = "wip_limit", "WIP limit"
        CLAIMED = "claimed", "claimed by someone else"
        VERSION_CONFLICT = "version_conflict", "stale version"
        REVIEW_REQUIRED = "review_required", "review required"

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    ticket_id = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=32, choices=Reason.choices)
    to_column = models.CharField(max_length=100, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["board", "at"], name="refused_move_board_time")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} -> {self.to_column}: {self.reason}"
