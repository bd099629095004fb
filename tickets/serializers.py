from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.adapters import RefuseUnknownFields, StrictCharField
from core.ids import ID_MAX
from tickets import rules
from tickets.models import Ticket, TicketLink
from tickets.representation import ticket_representation


class ProgressSerializer(serializers.Serializer):
    """The claimant's latest progress report (nulls when there is none)."""

    status = serializers.CharField(read_only=True, allow_null=True)
    percent = serializers.IntegerField(read_only=True, allow_null=True)
    at = serializers.DateTimeField(read_only=True, allow_null=True)


class SubtaskCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(read_only=True, help_text="How many subtasks it has.")
    done = serializers.IntegerField(
        read_only=True, help_text="How many of them are in the board's last column."
    )


class TicketLinkSerializer(serializers.Serializer):
    """A branch, commit or pull/merge request of a forge that mentions the ticket."""

    kind = serializers.ChoiceField(choices=TicketLink.Kind.choices, read_only=True)
    forge = serializers.CharField(read_only=True, help_text="github, gitlab or gitea.")
    url = serializers.URLField(read_only=True)
    title = serializers.CharField(read_only=True)
    state = serializers.CharField(
        read_only=True, help_text="open, merged or closed (pull requests); created or pushed."
    )
    external_id = serializers.CharField(
        read_only=True, help_text="The forge's number, commit sha or branch name."
    )
    updated_at = serializers.DateTimeField(read_only=True)


class TicketSerializer(serializers.ModelSerializer):
    """How a ticket looks everywhere: API responses, board events, MCP task details."""

    # The fields declare the shape (OpenAPI schema); `ticket_representation` produces it.

    board_id = serializers.IntegerField(read_only=True)
    column_id = serializers.IntegerField(read_only=True)
    current_column = serializers.CharField(read_only=True)
    priority = serializers.CharField(read_only=True)
    assignee = serializers.CharField(read_only=True, allow_null=True)
    created_by = serializers.CharField(read_only=True, allow_null=True)
    labels = serializers.ListField(child=serializers.CharField(), read_only=True)
    claimed_by = serializers.CharField(
        read_only=True, allow_null=True, help_text="The holder of an unexpired claim."
    )
    lease_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    blocked_by = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Ids of the tickets blocking it.",
    )
    is_blocked = serializers.BooleanField(
        read_only=True,
        help_text="Blocked by a ticket that has not reached the board's last column.",
    )
    parent_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The ticket it is a subtask of, if any."
    )
    subtasks = SubtaskCountsSerializer(
        read_only=True, help_text="Its subtasks: how many, and how many are done."
    )
    progress = ProgressSerializer(
        read_only=True,
        help_text="What the claimant says it is doing now (POST /progress); ends with the claim.",
    )
    links = TicketLinkSerializer(
        many=True,
        read_only=True,
        help_text="Branches, commits and pull requests that mention it (forge events).",
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
            "parent_id",
            "subtasks",
            "progress",
            "links",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict:
        return ticket_representation(instance)


class ClaimedTicketSerializer(TicketSerializer):
    """A claim's answer to its holder (claim, claim next, heartbeat): the ticket and the
    claim's fencing token. Nowhere else: events, lists and reads by others never show it."""

    claim_token = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The claim's fencing token: send it (claim_token or X-Claim-Token) with "
        "heartbeat, release, move, edit and comment to have them refused with 409 "
        "lease_lost once this claim is no longer current.",
    )

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "claim_token"]
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict:
        return {**ticket_representation(instance), "claim_token": instance.claim_token}


class ClaimTokenField(StrictCharField):
    """A write's `claim_token`: the fence of a claim holder's write (its form is the
    service's to check; the X-Claim-Token header may carry it instead)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault(
            "help_text",
            "The claim_token of your claim: 409 lease_lost, and nothing written, once that "
            "claim is no longer current. Or the X-Claim-Token header.",
        )
        super().__init__(**kwargs)


class OverrideSubtasksField(serializers.BooleanField):
    """A move's `override_subtasks`: a board admin finishes a parent whose subtasks are not."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "Admins only: move a ticket with unfinished subtasks to the last column "
            "(else 409 open_subtasks); audited.",
        )
        super().__init__(**kwargs)


def _anchored(where: str) -> dict:
    return {
        "type": "object",
        "properties": {where: {"type": "integer", "minimum": 1, "maximum": ID_MAX}},
        "required": [where],
        "additionalProperties": False,
    }


# Exactly what rules.parse_position takes (null is refused by the field: allow_null=False).
POSITION_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": ["top", "bottom"]},
        _anchored("before"),
        _anchored("after"),
    ]
}


@extend_schema_field(POSITION_SCHEMA)
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
    parent_id = serializers.IntegerField(
        min_value=1,
        max_value=ID_MAX,
        allow_null=True,
        required=False,
        help_text="Make it a subtask of this ticket (same board, at most 3 levels); null for none.",
    )


def one_column_name(data: dict, *, required: bool = False) -> dict:
    """`data` with its column as `column`, given as `column` or as `current_column` (the
    name a ticket is read with); both may be given only if they are the same."""
    alias = data.pop("current_column", None)
    if alias is not None and data.setdefault("column", alias) != alias:
        raise serializers.ValidationError(
            {"current_column": 'Differs from "column": give one of the two.'}
        )
    if required and "column" not in data:
        raise serializers.ValidationError(
            {"column": serializers.ErrorDetail("This field is required.", code="required")}
        )
    return data


class TargetColumn(RefuseUnknownFields):
    """A write that places a ticket in a column, named `column` or `current_column`, so
    that what a client read may be sent back (`one_column_name`)."""

    column_required = False

    column = StrictCharField(max_length=100, required=False, help_text="The column's name.")
    current_column = StrictCharField(
        max_length=100, required=False, help_text='The same as "column" (the name it is read as).'
    )

    def validate(self, data):
        return one_column_name(super().validate(data), required=self.column_required)


class TicketCreateSerializer(TargetColumn, TicketWriteSerializer):
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
            "subtasks",
            "progress",
            "links",
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
    override_wip = serializers.BooleanField(
        required=False,
        help_text="Admins only: with current_column, move into a column at its WIP limit.",
    )
    override_subtasks = OverrideSubtasksField()
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; 409 if it is stale."
    )
    claim_token = ClaimTokenField()


class TicketMoveSerializer(TargetColumn):
    column_required = True

    column = StrictCharField(
        max_length=100, required=False, help_text='The target column (or "current_column").'
    )
    override_wip = serializers.BooleanField(
        required=False, help_text="Admins only: move into a column at its WIP limit."
    )
    override_subtasks = OverrideSubtasksField()
    position = PositionField(
        required=False, help_text='"top", "bottom" (default), {"before": id} or {"after": id}.'
    )
    version = serializers.IntegerField(min_value=1, required=False)
    claim_token = ClaimTokenField()


class BulkIdsSerializer(RefuseUnknownFields):
    ticket_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX),
        min_length=1,
        max_length=rules.BULK_MAX,
    )


class BulkMoveSerializer(BulkIdsSerializer):
    column = StrictCharField(max_length=100)
    override_wip = serializers.BooleanField(
        required=False, help_text="Admins only: move into a column at its WIP limit."
    )
    override_subtasks = OverrideSubtasksField()


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


class LeaseSecondsField(serializers.IntegerField):
    """`lease_seconds`: rules.parse_lease_seconds decides; min_value and max_value only
    state its bounds in the document (read from the settings each time it is built)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", rules.LEASE_MIN_SECONDS)
        kwargs.setdefault("max_value", rules.lease_max_seconds())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return rules.parse_lease_seconds(data)


class LeaseSerializer(RefuseUnknownFields):
    misplaced_fields = {"claim_token": "A claim takes no claim_token: it answers with one."}

    lease_seconds = LeaseSecondsField(
        required=False, help_text="How long the claim lasts; the server default if absent."
    )


class HeartbeatSerializer(LeaseSerializer):
    misplaced_fields = {}

    claim_token = ClaimTokenField()


class ReleaseSerializer(RefuseUnknownFields):
    claim_token = ClaimTokenField()


class ProgressReportSerializer(RefuseUnknownFields):
    status = StrictCharField(max_length=200, help_text="What you are doing now.")
    percent = serializers.JSONField(
        required=False, allow_null=True, help_text="How far along, 0 to 100 (optional)."
    )
    claim_token = ClaimTokenField()


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
    include_assigned = serializers.BooleanField(
        required=False,
        help_text="Also tickets assigned to someone else (by default: only tickets with no "
        "assignee or assigned to you). A ticket with no assignee becomes yours while you "
        "hold it.",
    )


class DependenciesWriteSerializer(RefuseUnknownFields):
    blocked_by = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX),
        max_length=rules.DEPENDENCIES_MAX,
        help_text="Ids of the tickets (same board) that must be finished first.",
    )


class SubtaskSpecSerializer(RefuseUnknownFields):
    """One new subtask: made in the board's first column."""

    title = StrictCharField(max_length=rules.TITLE_MAX)
    description = StrictCharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    acceptance_criteria = StrictCharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES, required=False)


class SubtasksCreateSerializer(RefuseUnknownFields):
    subtasks = serializers.ListField(
        child=SubtaskSpecSerializer(),
        min_length=1,
        max_length=rules.SUBTASKS_MAX,
        help_text=f"1 to {rules.SUBTASKS_MAX} subtasks, made in one transaction: all or none.",
    )


class SubtasksCreatedSerializer(serializers.Serializer):
    parent = TicketSerializer(help_text="The ticket, with its new subtask counts.")
    subtasks = TicketSerializer(many=True, help_text="The new subtasks, in the order given.")


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
