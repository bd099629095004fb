from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from boards.selectors import board_readable
from history import selectors
from history.serializers import TicketHistorySerializer, TransitionsSerializer


class TicketHistoryView(GenericAPIView):
    serializer_class = TicketHistorySerializer

    @extend_schema(responses=TicketHistorySerializer(many=True))
    def get(self, request, ticket_id: int):
        """Every recorded change of the ticket, oldest first (kept after deletion)."""
        page = self.paginate_queryset(
            selectors.ticket_history(actor=request.user, ticket_id=int(ticket_id))
        )
        return self.get_paginated_response(TicketHistorySerializer(page, many=True).data)


class TicketTransitionsView(GenericAPIView):
    serializer_class = TransitionsSerializer

    def get(self, request, ticket_id: int):
        """Column transitions with the time spent in each column."""
        data = selectors.ticket_transitions(actor=request.user, ticket_id=int(ticket_id))
        return Response(TransitionsSerializer(data).data)


class BoardActivityView(GenericAPIView):
    serializer_class = TicketHistorySerializer

    @extend_schema(responses=TicketHistorySerializer(many=True))
    def get(self, request, board_id: int):
        """The board's ticket changes, newest first."""
        # A missing board is not found for a site admin too (whose role proves nothing).
        board_readable(actor=request.user, board_id=int(board_id))
        page = self.paginate_queryset(
            selectors.board_activity(actor=request.user, board_id=int(board_id))
        )
        return self.get_paginated_response(TicketHistorySerializer(page, many=True).data)


class HistoryStatsView(GenericAPIView):
    @extend_schema(
        responses=inline_serializer(
            "HistoryStats",
            {
                "total_changes": serializers.IntegerField(),
                "tickets_tracked": serializers.IntegerField(),
                "last_24h": serializers.IntegerField(),
                "last_7d": serializers.IntegerField(),
                "moves": serializers.IntegerField(),
                "by_field": serializers.DictField(child=serializers.IntegerField()),
                "by_actor": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request):
        """Counts of recorded changes: totals, by field, by actor."""
        return Response(selectors.history_stats(actor=request.user))
