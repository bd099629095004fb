from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boards.access import readable_boards
from core.adapters import expected_version, validated, validated_query
from core.errors import InvalidInput, field_error
from core.ids import ID_MAX
from core.openapi_extensions import IF_MATCH_PARAMETER
from tickets import rules, selectors, services
from tickets.models import Ticket
from tickets.serializers import (
    BulkAssignSerializer,
    BulkMoveSerializer,
    BulkPrioritySerializer,
    BulkReportSerializer,
    ClaimedTicketSerializer,
    ClaimNextSerializer,
    DependenciesSerializer,
    DependenciesWriteSerializer,
    HeartbeatSerializer,
    LeaseSerializer,
    ProgressReportSerializer,
    ReleaseSerializer,
    SubtasksCreatedSerializer,
    SubtasksCreateSerializer,
    TicketCreateSerializer,
    TicketMoveSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    one_column_name,
)


class TicketFilterSerializer(serializers.Serializer):
    board_id = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    column = serializers.CharField(max_length=100, required=False)
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES, required=False)
    assignee = serializers.CharField(max_length=150, required=False)
    label = serializers.CharField(max_length=rules.LABEL_MAX, required=False)
    q = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Empty: no filter."
    )
    current_column = serializers.CharField(
        max_length=100, required=False, help_text='The same as "column".'
    )

    def validate(self, data):
        return one_column_name(super().validate(data))


CLAIM_TOKEN_HEADER = "X-Claim-Token"
CLAIM_TOKEN_PARAMETER = OpenApiParameter(
    CLAIM_TOKEN_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The claim_token of your claim, instead of the body's claim_token (the two "
    "must agree when both are given): 409 lease_lost once that claim is no longer current.",
)


def claim_token(request: Request, body_token: str | None) -> str | None:
    """The claim token a write names: the X-Claim-Token header or the body's `claim_token`,
    either one; both may be given only if they agree (400 otherwise). Its form is the
    service's to check, as for every surface."""
    header = request.headers.get(CLAIM_TOKEN_HEADER)
    if header is None:
        return body_token
    header = header.strip()
    if body_token is not None and body_token != header:
        message = f"{CLAIM_TOKEN_HEADER} and the body's claim_token disagree."
        raise InvalidInput(message, validation_errors=[field_error("claim_token", message)])
    return header


def ticket_response(request, ticket_id: int, status_code: int = 200) -> Response:
    return ticket_answer(selectors.ticket_get(actor=request.user, ticket_id=ticket_id), status_code)


def ticket_answer(ticket: Ticket, status_code: int = 200, serializer=TicketSerializer) -> Response:
    """The ticket as a write service returned it: loaded with everything its
    representation reads, and what the write's board event carries."""
    response = Response(serializer(ticket).data, status=status_code)
    response["ETag"] = f'"{ticket.version}"'
    return response


def claim_answer(ticket: Ticket) -> Response:
    """A claim's answer to its holder: the ticket and the claim's token."""
    return ticket_answer(ticket, serializer=ClaimedTicketSerializer)


class TicketViewSet(viewsets.GenericViewSet):
    lookup_value_regex = r"\d+"
    serializer_class = TicketSerializer

    def get_queryset(self):
        return readable_boards(selectors.ticket_queryset(), self.request.user, field="board_id")

    def get_serializer_class(self):
        return {
            "create": TicketCreateSerializer,
            "update": TicketUpdateSerializer,
            "partial_update": TicketUpdateSerializer,
            "move": TicketMoveSerializer,
            "claim": LeaseSerializer,
            "heartbeat": HeartbeatSerializer,
            "release": ReleaseSerializer,
            "dependencies": DependenciesWriteSerializer,
            "subtasks": SubtasksCreateSerializer,
        }.get(self.action, TicketSerializer)

    @extend_schema(parameters=[TicketFilterSerializer], responses=TicketSerializer(many=True))
    def list(self, request):
        filters = validated_query(TicketFilterSerializer, request)
        tickets = selectors.with_page_relations(
            selectors.ticket_list(actor=request.user, **filters)
        )
        page = self.paginate_queryset(tickets)
        selectors.attach_relations(page)
        return self.get_paginated_response(TicketSerializer(page, many=True).data)

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketSerializer})
    def create(self, request):
        data = validated(TicketCreateSerializer, request.data)
        ticket = services.ticket_create(actor=request.user, **data)
        return ticket_answer(ticket, status.HTTP_201_CREATED)

    @extend_schema(responses=TicketSerializer)
    def retrieve(self, request, pk: int):
        return ticket_response(request, int(pk))

    @extend_schema(
        request=TicketUpdateSerializer,
        responses=TicketSerializer,
        parameters=[
            IF_MATCH_PARAMETER,
            CLAIM_TOKEN_PARAMETER,
        ],
    )
    def update(self, request, pk: int):
        data = validated(TicketUpdateSerializer, request.data)
        version = expected_version(request, data.pop("version", None))
        token = claim_token(request, data.pop("claim_token", None))
        ticket = services.ticket_update(
            actor=request.user,
            ticket_id=int(pk),
            expected_version=version,
            claim_token=token,
            **data,
        )
        return ticket_answer(ticket)

    @extend_schema(
        request=TicketUpdateSerializer,
        responses=TicketSerializer,
        parameters=[
            IF_MATCH_PARAMETER,
            CLAIM_TOKEN_PARAMETER,
        ],
    )
    def partial_update(self, request, pk: int):
        return self.update(request, pk)

    @extend_schema(
        responses={204: None},
        parameters=[IF_MATCH_PARAMETER],
    )
    def destroy(self, request, pk: int):
        version = expected_version(request, None)
        services.ticket_delete(actor=request.user, ticket_id=int(pk), expected_version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=TicketMoveSerializer,
        responses=TicketSerializer,
        parameters=[
            IF_MATCH_PARAMETER,
            CLAIM_TOKEN_PARAMETER,
        ],
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk: int):
        data = validated(TicketMoveSerializer, request.data)
        version = expected_version(request, data.pop("version", None))
        token = claim_token(request, data.pop("claim_token", None))
        ticket = services.ticket_move(
            actor=request.user,
            ticket_id=int(pk),
            expected_version=version,
            claim_token=token,
            **data,
        )
        return ticket_answer(ticket)

    @extend_schema(request=LeaseSerializer, responses=ClaimedTicketSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk: int):
        """Claim the ticket for a lease; 409 naming the holder if someone else has it.
        The answer carries the claim's `claim_token`: new with each claim, kept when you
        renew a live claim of your own."""
        data = validated(LeaseSerializer, request.data)
        return claim_answer(services.ticket_claim(actor=request.user, ticket_id=int(pk), **data))

    @extend_schema(
        request=HeartbeatSerializer,
        responses=ClaimedTicketSerializer,
        parameters=[CLAIM_TOKEN_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk: int):
        """Extend your lease on a ticket you hold."""
        data = validated(HeartbeatSerializer, request.data)
        token = claim_token(request, data.pop("claim_token", None))
        return claim_answer(
            services.ticket_heartbeat(
                actor=request.user, ticket_id=int(pk), claim_token=token, **data
            )
        )

    @extend_schema(
        request=ProgressReportSerializer,
        responses=TicketSerializer,
        parameters=[CLAIM_TOKEN_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def progress(self, request, pk: int):
        """Say what you are doing on a ticket you hold: `status` (at most 200 characters)
        and `percent` (0-100, optional). Shown on the card live until your claim ends;
        at most one report per PROGRESS_MIN_INTERVAL_SECONDS (429 rate_limited)."""
        data = validated(ProgressReportSerializer, request.data)
        token = claim_token(request, data.pop("claim_token", None))
        return ticket_answer(
            services.ticket_report_progress(
                actor=request.user, ticket_id=int(pk), claim_token=token, **data
            )
        )

    @extend_schema(
        request=ReleaseSerializer, responses=TicketSerializer, parameters=[CLAIM_TOKEN_PARAMETER]
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk: int):
        """Give up your claim (admins may release anyone's)."""
        data = validated(ReleaseSerializer, request.data)
        token = claim_token(request, data.pop("claim_token", None))
        return ticket_answer(
            services.ticket_release(actor=request.user, ticket_id=int(pk), claim_token=token)
        )

    @extend_schema(methods=["GET"], responses=DependenciesSerializer)
    @extend_schema(
        methods=["PUT"], request=DependenciesWriteSerializer, responses=DependenciesSerializer
    )
    @action(detail=True, methods=["get", "put"])
    def dependencies(self, request, pk: int):
        """GET what blocks the ticket and what it blocks; PUT the full list of blockers."""
        if request.method == "PUT":
            data = validated(DependenciesWriteSerializer, request.data)
            services.ticket_set_dependencies(actor=request.user, ticket_id=int(pk), **data)
        return Response(
            DependenciesSerializer(
                selectors.ticket_dependencies(actor=request.user, ticket_id=int(pk))
            ).data
        )

    @extend_schema(methods=["GET"], responses=TicketSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=SubtasksCreateSerializer,
        responses={201: SubtasksCreatedSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def subtasks(self, request, pk: int):
        """GET the ticket's subtasks, oldest first, a page at a time. POST {"subtasks":
        [{title, description?, acceptance_criteria?, priority?}, …]} makes new subtasks of
        it in one transaction: all of them, or none with a 400 naming the bad item."""
        if request.method == "POST":
            data = validated(SubtasksCreateSerializer, request.data)
            made = services.ticket_create_subtasks(actor=request.user, ticket_id=int(pk), **data)
            parent = selectors.ticket_get(actor=request.user, ticket_id=int(pk))
            body = {
                "parent": TicketSerializer(parent).data,
                "subtasks": TicketSerializer(made, many=True).data,
            }
            return Response(body, status=status.HTTP_201_CREATED)
        tickets = selectors.with_page_relations(
            selectors.ticket_subtasks(actor=request.user, ticket_id=int(pk))
        )
        page = self.paginate_queryset(tickets)
        selectors.attach_relations(page)
        return self.get_paginated_response(TicketSerializer(page, many=True).data)


class ClaimNextView(APIView):
    serializer_class = ClaimNextSerializer

    @extend_schema(request=ClaimNextSerializer, responses={200: ClaimedTicketSerializer})
    def post(self, request, board_id: int):
        """Atomically claim the best ready ticket: unclaimed, not blocked, highest
        priority, then topmost, then oldest. 404 `nothing_to_claim` when there is none.
        The answer carries the new claim's `claim_token`."""
        data = validated(ClaimNextSerializer, request.data)
        return claim_answer(
            services.ticket_claim_next(actor=request.user, board_id=int(board_id), **data)
        )


class BulkView(APIView):
    """All-or-nothing: every ticket changes, or none does and the error says why."""

    operation = ""

    @staticmethod
    def service(**kwargs) -> list[dict]:
        raise TypeError("BulkView subclasses name their service")

    def post(self, request):
        data = validated(self.serializer_class, request.data)
        results = self.service(actor=request.user, **data)
        changed = sum(1 for row in results if row["status"] == "changed")
        return Response({"operation": self.operation, "changed": changed, "results": results})


@extend_schema(request=BulkMoveSerializer, responses=BulkReportSerializer)
class BulkMoveView(BulkView):
    serializer_class = BulkMoveSerializer
    operation = "move"
    service = staticmethod(services.tickets_bulk_move)


@extend_schema(request=BulkPrioritySerializer, responses=BulkReportSerializer)
class BulkPriorityView(BulkView):
    serializer_class = BulkPrioritySerializer
    operation = "priority"
    service = staticmethod(services.tickets_bulk_set_priority)


@extend_schema(request=BulkAssignSerializer, responses=BulkReportSerializer)
class BulkAssignView(BulkView):
    serializer_class = BulkAssignSerializer
    operation = "assign"
    service = staticmethod(services.tickets_bulk_assign)


class BoardTicketsView(APIView):
    @extend_schema(operation_id="boards_tickets_retrieve", responses=TicketSerializer(many=True))
    def get(self, request, pk: int):
        """Every ticket of the board in board order (columns left to right, cards top down)."""
        tickets = selectors.board_tickets(actor=request.user, board_id=int(pk))
        return Response(TicketSerializer(tickets, many=True).data)
