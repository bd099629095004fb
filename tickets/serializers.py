from datetime import datetime, tzinfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agent_kanban.adapters import RefuseUnknownFields
from boards.models import Column
from tickets import rules
from tickets.models import Ticket
from tickets.selectors import prefetched


def _iso(moment: datetime | None, zone: tzinfo) -> str | None:
    """DRF's ISO 8601 form of an aware datetime: in the current zone, UTC written as Z."""
    if moment is None:
        return None
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def ticket_representation(ticket: Ticket, *, now: datetime, zone: tzinfo) -> dict:
    """What `TicketSerializer` declares, built directly: on a board read the field
    machinery cost more than the queries. A test holds the two equal field by field."""
    claimant = ticket.active_claimant_id(now)
    blockers = list(prefetched(ticket, "blocked_by"))
    return {
        "id": ticket.pk,
        "board_id": ticket.board_id,
        "title": ticket.title,
        "description": ticket.description,
        "acceptance_criteria": ticket.acceptance_criteria,
        "priority": ticket.priority_name,
        "current_column": ticket.column.name,
        "column_id": ticket.column_id,
        "position": ticket.position,
        "assignee": ticket.assignee.username if ticket.assignee_id else None,
        "created_by": ticket.created_by.username if ticket.created_by_id else None,
        "labels": sorted(label.name for label in prefetched(ticket, "labels")),
        "column_entered_at": _iso(ticket.column_entered_at, zone),
        "created_at": _iso(ticket.created_at, zone),
        "updated_at": _iso(ticket.updated_at, zone),
        "version": ticket.version,
        "claimed_by": ticket.claimed_by.username if claimant is not None else None,
        "lease_expires_at": _iso(ticket.lease_expires_at, zone) if claimant is not None else None,
        "blocked_by": sorted(blocker.pk for blocker in blockers),
        "is_blocked": _has_unfinished(ticket, blockers),
    }


def _has_unfinished(ticket: Ticket, blockers: list[Ticket]) -> bool:
    if not blockers:
        return False
    last_column_id = getattr(ticket, "last_column_id", None)
    if last_column_id is None:
        last_column_id = (
            Column.objects.filter(board_id=ticket.board_id)
            .order_by("-position")
            .values_list("pk", flat=True)
            .first()
        )
    return any(blocker.column_id != last_column_id for blocker in blockers)


class TicketSerializer(serializers.ModelSerializer):
    """How a ticket looks everywhere: API responses, board events, exports.

    The fields declare the shape (and the OpenAPI schema); `ticket_representation`
    produces it."""

    board_id = serializers.IntegerField(read_only=True)
    column_id = serializers.IntegerField(read_only=True)
    current_column = serializers.CharField(source="column.name", read_only=True)
    priority = serializers.CharField(source="priority_name", read_only=True)
    assignee = serializers.CharField(
        source="assignee.username", read_only=True, default=None, allow_null=True
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    labels = serializers.SerializerMethodField()
    claimed_by = serializers.SerializerMethodField(help_text="The holder of an unexpired claim.")
    lease_expires_at = serializers.SerializerMethodField()
    blocked_by = serializers.SerializerMethodField(help_text="Ids of the tickets blocking it.")
    is_blocked = serializers.SerializerMethodField(
        help_text="Blocked by a ticket that has not reached the board's last column."
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "board_id",
            "title",
            "description",
            "acceptance_criteria",
            "priority",
            "current_column",
            "column_id",
            "position",
            "assignee",
            "created_by",
            "labels",
            "column_entered_at",
            "created_at",
            "updated_at",
            "version",
            "claimed_by",
            "lease_expires_at",
            "blocked_by",
            "is_blocked",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict:
        return ticket_representation(
            instance, now=timezone.now(), zone=timezone.get_current_timezone()
        )

    def field_representation(self, instance: Ticket) -> dict:
        """The representation DRF's fields would give; what the fast one is tested against."""
        return super().to_representation(instance)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_labels(self, ticket: Ticket) -> list[str]:
        return sorted(label.name for label in ticket.labels.all())

    def _claim_active(self, ticket: Ticket) -> bool:
        return ticket.active_claimant_id(timezone.now()) is not None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_claimed_by(self, ticket: Ticket) -> str | None:
        return ticket.claimed_by.username if self._claim_active(ticket) else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_lease_expires_at(self, ticket: Ticket) -> str | None:
        if not self._claim_active(ticket):
            return None
        return serializers.DateTimeField().to_representation(ticket.lease_expires_at)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_blocked_by(self, ticket: Ticket) -> list[int]:
        return sorted(blocker.pk for blocker in ticket.blocked_by.all())

    def get_is_blocked(self, ticket: Ticket) -> bool:
        return _has_unfinished(ticket, list(ticket.blocked_by.all()))


class StrictCharField(serializers.CharField):
    """Text that must arrive as a JSON string: DRF's CharField would turn 123 into "123"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PositionField(serializers.JSONField):
    """ "top", "bottom", {"before": ticket_id} or {"after": ticket_id}."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        rules.parse_position(value)
        return value


class TicketWriteSerializer(RefuseUnknownFields):
    title = StrictCharField(max_length=rules.TITLE_MAX)
    description = StrictCharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    acceptance_criteria = StrictCharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES, required=False)
    assignee = StrictCharField(max_length=150, allow_null=True, allow_blank=True, required=False)
    labels = serializers.ListField(
        child=StrictCharField(max_length=rules.LABEL_MAX),
        max_length=rules.LABELS_MAX,
        required=False,
    )


class TicketCreateSerializer(TicketWriteSerializer):
    misplaced_fields = {"current_column": 'On create the column is "column".'}

    board_id = serializers.IntegerField(min_value=1)
    column = StrictCharField(
        max_length=100, required=False, help_text="Column name; the board's first column if absent."
    )
    position = PositionField(
        required=False, help_text='"top", "bottom" (default), {"before": id} or {"after": id}.'
    )


class TicketUpdateSerializer(TicketWriteSerializer):
    # What a client read may be sent back as it is; fields that look writable but
    # change elsewhere are refused with directions, rather than silently dropped.
    ignored_fields = frozenset(
        {
            "id",
            "board_id",
            "column_id",
            "created_by",
            "column_entered_at",
            "created_at",
            "updated_at",
            "lease_expires_at",
            "is_blocked",
        }
    )
    misplaced_fields = {
        "column": 'Use "current_column", or POST /api/tickets/{id}/move.',
        "position": "Reorder with POST /api/tickets/{id}/move.",
        "claimed_by": "Claim with POST /api/tickets/{id}/claim.",
        "blocked_by": "Dependencies change with PUT /api/tickets/{id}/dependencies.",
    }

    title = StrictCharField(max_length=rules.TITLE_MAX, required=False)
    current_column = StrictCharField(
        max_length=100, required=False, help_text="Moves the ticket to the bottom of it."
    )
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; 409 if it is stale."
    )


class TicketMoveSerializer(RefuseUnknownFields):
    misplaced_fields = {"current_column": 'The target column is "column".'}

    column = StrictCharField(max_length=100)
    override_wip = serializers.BooleanField(
        required=False, help_text="Admins only: move into a column at its WIP limit."
    )
    position = PositionField(
        required=False, help_text='"top", "bottom" (default), {"before": id} or {"after": id}.'
    )
    version = serializers.IntegerField(min_value=1, required=False)


class BulkIdsSerializer(RefuseUnknownFields):
    ticket_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=rules.ID_MAX),
        min_length=1,
        max_length=rules.BULK_MAX,
    )


class BulkMoveSerializer(BulkIdsSerializer):
    column = StrictCharField(max_length=100)


class BulkPrioritySerializer(BulkIdsSerializer):
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES)


class BulkAssignSerializer(BulkIdsSerializer):
    assignee = StrictCharField(max_length=150, allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()


class BulkReportSerializer(serializers.Serializer):
    operation = serializers.CharField()
    changed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


class LeaseSerializer(RefuseUnknownFields):
    lease_seconds = serializers.IntegerField(
        required=False,
        min_value=10,
        help_text="How long the claim lasts; the server default if absent.",
    )


class ClaimNextSerializer(LeaseSerializer):
    column = StrictCharField(
        max_length=100,
        required=False,
        help_text="Column to take from; the board's first if absent.",
    )
    labels = serializers.ListField(
        child=StrictCharField(max_length=rules.LABEL_MAX),
        required=False,
        max_length=rules.LABELS_MAX,
        help_text="Only tickets carrying all of these labels.",
    )
    assignee = StrictCharField(
        max_length=150, required=False, help_text="Only tickets assigned to this user."
    )


class DependenciesWriteSerializer(RefuseUnknownFields):
    blocked_by = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=rules.ID_MAX),
        max_length=rules.DEPENDENCIES_MAX,
        help_text="Ids of the tickets (same board) that must be finished first.",
    )


class TicketRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    current_column = serializers.CharField()
    is_finished = serializers.BooleanField()


class DependenciesSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    is_blocked = serializers.BooleanField()
    blocked_by = TicketRefSerializer(many=True)
    blocks = TicketRefSerializer(many=True)
