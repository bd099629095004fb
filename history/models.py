from django.conf import settings
from django.db import models


class TicketHistory(models.Model):
    """One changed field of one ticket. It outlives the ticket (an audit trail must),
    so it keeps the ticket's id rather than a foreign key to it."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    ticket_id = models.BigIntegerField(db_index=True)
    field_name = models.CharField(max_length=64, db_index=True)
    old_value = models.TextField(null=True, blank=True)
    new_value = models.TextField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["changed_at", "id"]
        verbose_name_plural = "ticket history"
        indexes = [models.Index(fields=["board", "changed_at"], name="history_board_time")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.field_name}: {self.old_value!r} → {self.new_value!r}"
