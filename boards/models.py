from django.conf import settings
from django.db import models

from core import clock

DEFAULT_COLUMNS = ("Backlog", "In Progress", "Testing", "Done")


class Board(models.Model):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # core.clock, not auto_now_add: a board seed_demo backdates was created when its
    # board_created event says.
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # The sequence number of the board's latest event; bumped in the writer's
    # transaction, so events are numbered in commit order without gaps.
    last_event_seq = models.BigIntegerField(default=0)
    # Who may pass a ticket through a review column: any member with write rights, or
    # humans only (agents are refused with humans_review).
    review_by = models.CharField(
        max_length=10, choices=[("anyone", "anyone"), ("humans", "humans")], default="anyone"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Column(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField()
    wip_limit = models.PositiveIntegerField(null=True, blank=True)
    # A ticket leaves this column forward only by an approval (POST /review).
    requires_review = models.BooleanField(default=False)

    class Meta:
        ordering = ["board_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["board", "name"], name="column_name_unique_per_board"),
        ]

    def __str__(self) -> str:
        return f"{self.board.name} / {self.name}" if self.board_id else self.name


class Role(models.TextChoices):
    """What a user may do on one board. Site admins (`is_staff`) act as admin everywhere."""

    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class BoardMembership(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["board_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["board", "user"], name="one_membership_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} on {self.board}"


class BoardEvent(models.Model):
    """The board's event log: what live clients receive, and what a reconnecting
    client replays from its last sequence number."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        # The table keeps the name it had when the log lived in the history app.
        db_table = "history_boardevent"
        ordering = ["board_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["board", "seq"], name="event_seq_unique_per_board"),
        ]

    def __str__(self) -> str:
        return f"{self.board_id}#{self.seq} {self.type}"
