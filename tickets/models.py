from django.conf import settings
from django.db import models

from tickets.fields import OrderKeyField


class Priority(models.IntegerChoices):
    """Stored as numbers so that sorting by priority is sorting by urgency."""

    CRITICAL = 1, "critical"
    HIGH = 2, "high"
    MEDIUM = 3, "medium"
    LOW = 4, "low"

    @classmethod
    def from_name(cls, name: str) -> "Priority":
        return {member.label: member for member in cls}[name]


class Label(models.Model):
    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["board", "name"], name="label_name_unique_per_board"),
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="tickets")
    column = models.ForeignKey("boards.Column", on_delete=models.PROTECT, related_name="tickets")
    position = OrderKeyField(max_length=255)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    acceptance_criteria = models.TextField(blank=True, default="")
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.MEDIUM, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="tickets")
    column_entered_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)
    # A claim: who works on the ticket, until when. Set only by one conditional
    # UPDATE (tickets.services.ticket_claim), so two agents never hold it at once.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_tickets",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The fencing token of the claim: new and random with every claim that is not its
    # holder's renewal of a live one, null when unclaimed. Shown to the holder alone (in
    # the claim answers), never in the ticket's representation, events or history: a
    # write that names it is refused once the claim it names is no longer current.
    claim_token = models.CharField(max_length=64, null=True, blank=True, editable=False)
    # Whether the current claim made its holder the assignee (the ticket had none): the
    # assignment ends with the claim, so that a lapsed or released ticket is anyone's again.
    assigned_by_claim = models.BooleanField(default=False, editable=False)
    blocked_by = models.ManyToManyField(
        "self", symmetrical=False, related_name="blocks", blank=True
    )
    # A subtask's parent, on the same board (at most three levels deep).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subtasks"
    )
    # Who moved the ticket into the review column it is in: that identity may not review it.
    review_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The claimant's latest progress report, cleared when the claim ends.
    progress_status = models.CharField(max_length=200, blank=True, default="")
    progress_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["column", "position"], name="ticket_position_unique"),
        ]
        indexes = [
            # Claim next walks a column best first and stops at the first ready ticket,
            # instead of sorting the whole column on every claim.
            models.Index(fields=["column", "priority", "position"], name="ticket_best_first"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).label

    def active_claimant_id(self, now) -> int | None:
        """The holder of an unexpired claim, if any."""
        if self.claimed_by_id and self.lease_expires_at and self.lease_expires_at > now:
            return self.claimed_by_id
        return None


class TicketLink(models.Model):
    """A branch, commit, pull request or merge request of a forge (GitHub, GitLab, Gitea)
    that mentions the ticket. Written by tickets.services.links only."""

    class Kind(models.TextChoices):
        BRANCH = "branch"
        COMMIT = "commit"
        PULL_REQUEST = "pull_request"
        MERGE_REQUEST = "merge_request"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.URLField(max_length=1000)
    title = models.CharField(max_length=500, blank=True, default="")
    # open, merged or closed for a pull/merge request; created or pushed for the others.
    state = models.CharField(max_length=20, blank=True, default="")
    forge = models.CharField(max_length=10)
    # The forge's name for it: a pull request's number, a commit's sha, a branch's name.
    external_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "url"], name="ticket_link_unique_url"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.kind} {self.url}"
