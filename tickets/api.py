from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from boards.access import readable_boards
from core.adapters import expected_version, validated
from core.ids import ID_MAX
from tickets import rules, selectors, services
from tickets.models import Ticket
from tickets.serializers import (
    BulkAssignSerializer,
    BulkMoveSerializer,
    BulkPrioritySerializer,
    BulkReportSerializer,
    ClaimNextSerializer,
    DependenciesSerializer,
    DependenciesWriteSerializer,
    LeaseSerializer,
    TicketCreateSerializer,
    TicketMoveSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)


class TicketFilterSerializer(serializers.Serializer):
    board_id = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    column = serializers.CharField(max_length=100, required=False)
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES, required=False)
    assignee = serializers.CharField(max_length=150, required=False)
    label = serializers.CharField(max_length=rules.LABEL_MAX, required=False)
    q = serializers.CharField(max_length=200, required=False)


def ticket_response(request, ticket_id: int, status_code: int = 200) -> Response:
    return ticket_answer(selectors.ticket_get(actor=request.user, ticket_id=ticket_id), status_code)


def ticket_answer(ticket: Ticket, status_code: int = 200) -> Response:
    """The ticket as a write service returned it: loaded with everything its
    representation reads, and what the write's board event carries."""
    response = Response(TicketSerializer(ticket).data, status=status_code)
    response["ETag"] = f'"{ticket.version}"'
    return response


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
            "heartbeat": LeaseSerializer,
            "dependencies": DependenciesWriteSerializer,
        }.get(self.action, TicketSerializer)

    @extend_schema(parameters=[TicketFilterSerializer], responses=TicketSerializer(many=True))
    def list(self, request):
        filters = validated(TicketFilterSerializer, request.query_params)
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
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    def update(self, request, pk: int):
        data = validated(TicketUpdateSerializer, request.data)
        version = expected_version(request, data.pop("version", None))
        ticket = services.ticket_update(
            actor=request.user, ticket_id=int(pk), expected_version=version, **data
        )
        return ticket_answer(ticket)

    @extend_schema(
        request=TicketUpdateSerializer,
        responses=TicketSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    def partial_update(self, request, pk: int):
        return self.update(request, pk)

    @extend_schema(
        responses={204: None},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    def destroy(self, request, pk: int):
        version = expected_version(request, None)
        services.ticket_delete(actor=request.user, ticket_id=int(pk), expected_version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TicketMoveSerializer, responses=TicketSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk: int):
        data = validated(TicketMoveSerializer, request.data)
        version = expected_version(request, data.pop("version", None))
        ticket = services.ticket_move(
            actor=request.user, ticket_id=int(pk), expected_version=version, **data
        )
        return ticket_answer(ticket)

    @extend_schema(request=LeaseSerializer, responses=TicketSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk: int):
        """Claim the ticket for a lease; 409 naming the holder if someone else has it."""
        data = validated(LeaseSerializer, request.data)
        return ticket_answer(services.ticket_claim(actor=request.user, ticket_id=int(pk), **data))

    @extend_schema(request=LeaseSerializer, responses=TicketSerializer)
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk: int):
        """Extend your lease on a ticket you hold."""
        data = validated(LeaseSerializer, request.data)
        return ticket_answer(
            services.ticket_heartbeat(actor=request.user, ticket_id=int(pk), **data)
        )

    @extend_schema(request=None, responses=TicketSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk: int):
        """Give up your claim (admins may release anyone's)."""
        return ticket_answer(services.ticket_release(actor=request.user, ticket_id=int(pk)))

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


class ClaimNextView(APIView):
    serializer_class = ClaimNextSerializer

    @extend_schema(request=ClaimNextSerializer, responses={200: TicketSerializer})
    def post(self, request, board_id: int):
        """Atomically claim the best ready ticket: unclaimed, not blocked, highest
        priority, then topmost, then oldest. 404 `nothing_to_claim` when there is none."""
        data = validated(ClaimNextSerializer, request.data)
        return ticket_answer(
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
