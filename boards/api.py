from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from agent_kanban.adapters import validated
from boards import selectors, services
from boards.serializers import (
    BoardCreateSerializer,
    BoardSerializer,
    BoardUpdateSerializer,
    ColumnSerializer,
    ColumnsUpdateSerializer,
)
from tickets.selectors import board_tickets
from tickets.serializers import TicketSerializer


def board_response(board_id: int, status_code: int = 200) -> Response:
    return Response(
        BoardSerializer(selectors.board_get(board_id=board_id)).data, status=status_code
    )


class BoardViewSet(viewsets.GenericViewSet):
    lookup_value_regex = r"\d+"
    serializer_class = BoardSerializer

    def get_queryset(self):
        return selectors.board_list()

    def get_serializer_class(self):
        return {
            "create": BoardCreateSerializer,
            "update": BoardUpdateSerializer,
            "partial_update": BoardUpdateSerializer,
            "columns": ColumnsUpdateSerializer,
        }.get(self.action, BoardSerializer)

    @extend_schema(responses=BoardSerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(selectors.board_list())
        return self.get_paginated_response(BoardSerializer(page, many=True).data)

    @extend_schema(request=BoardCreateSerializer, responses={201: BoardSerializer})
    def create(self, request):
        data = validated(BoardCreateSerializer, request.data)
        board = services.board_create(actor=request.user, **data)
        return board_response(board.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=BoardSerializer)
    def retrieve(self, request, pk: int):
        return board_response(int(pk))

    @extend_schema(request=BoardUpdateSerializer, responses=BoardSerializer)
    def update(self, request, pk: int):
        data = validated(BoardUpdateSerializer, request.data)
        services.board_update(actor=request.user, board_id=int(pk), **data)
        return board_response(int(pk))

    @extend_schema(request=BoardUpdateSerializer, responses=BoardSerializer)
    def partial_update(self, request, pk: int):
        return self.update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk: int):
        services.board_delete(actor=request.user, board_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=TicketSerializer(many=True))
    @action(detail=True, methods=["get"])
    def tickets(self, request, pk: int):
        """Every ticket of the board in board order (columns left to right, cards top down)."""
        selectors.board_get(board_id=int(pk))
        tickets = board_tickets(board_id=int(pk))
        return Response(TicketSerializer(tickets, many=True).data)

    @extend_schema(methods=["GET"], responses=ColumnSerializer(many=True))
    @extend_schema(
        methods=["PUT"], request=ColumnsUpdateSerializer, responses=ColumnSerializer(many=True)
    )
    @action(detail=True, methods=["get", "put"])
    def columns(self, request, pk: int):
        """GET the columns; PUT the whole ordered list to add, rename, reorder or remove."""
        selectors.board_get(board_id=int(pk))
        if request.method == "PUT":
            data = validated(ColumnsUpdateSerializer, request.data)
            specs = [
                {key: column[key] for key in ("id", "name", "wip_limit") if key in column}
                for column in data["columns"]
            ]
            services.board_set_columns(actor=request.user, board_id=int(pk), columns=specs)
        return Response(selectors.board_columns(board_id=int(pk)))
