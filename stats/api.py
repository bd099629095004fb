"""The statistics endpoints: thin adapters over stats.selectors."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from boards.access import READ, require_board
from core.adapters import validated_query
from stats import selectors
from stats import serializers as out
from stats.periods import Period, period_from
from tickets.access import require_ticket

# The query serializer both validates and documents the period (its bounds and formats).
PERIOD_PARAMETERS = [out.DaysQuery]


def period_of(request) -> Period:
    data = validated_query(out.DaysQuery, request)
    return period_from(days=data.get("days"), first_day=data.get("from"), last_day=data.get("to"))


class StatsView(GenericAPIView):
    """The output serializers document the responses; the selectors' dicts are rendered
    as they are (DRF's encoder writes dates and times as those serializers would), as
    running thousands of rows through serializer fields would cost more than computing
    them."""

    pagination_class = None

    def initial(self, request, *args, **kwargs):
        """Every statistic reads one board: 404 for those who may not read it."""
        super().initial(request, *args, **kwargs)
        if "board_id" in kwargs:
            require_board(request.user, int(kwargs["board_id"]), READ)
        if "ticket_id" in kwargs:
            require_ticket(request.user, int(kwargs["ticket_id"]), READ)


class BoardStatisticsView(StatsView):
    serializer_class = out.BoardStatisticsSerializer

    @extend_schema(parameters=PERIOD_PARAMETERS)
    def get(self, request, board_id: int):
        """Per column: tickets now, WIP limit, time spent there (stays that ended in the
        period: mean, median, p85, p95, min, max, samples); board totals; tickets
        created, finished and moved in the period."""
        data = selectors.board_statistics(board_id=int(board_id), period=period_of(request))
        return Response(data)


class TicketStatisticsView(StatsView):
    serializer_class = out.TicketStatisticsSerializer

    def get(self, request, ticket_id: int):
        """Time in each column so far, age, cycle and lead time once finished, and the
        ticket's colour with the reason for it."""
        data = selectors.ticket_statistics(ticket_id=int(ticket_id))
        return Response(data)


class TicketColorsView(StatsView):
    serializer_class = out.TicketColorsSerializer

    @extend_schema(parameters=[OpenApiParameter("column", str, description="Only this column.")])
    def get(self, request, board_id: int):
        """Every ticket in a working column with its time there and a colour against the
        column's history: green <= median, yellow <= p85, red > p85, grey with fewer
        than STATS_MIN_SAMPLES completed stays in the last STATS_WINDOW_DAYS days."""
        column = validated_query(out.ColorsQuery, request).get("column")
        data = selectors.ticket_colors(board_id=int(board_id), column=column)
        return Response(data)


class PerformanceView(StatsView):
    serializer_class = out.PerformanceSerializer

    @extend_schema(parameters=PERIOD_PARAMETERS)
    def get(self, request, board_id: int):
        """Throughput per day and week, cycle time (first move out of the first column
        to arrival in the last) and lead time (creation to arrival in the last)
        percentiles 50/85/95, work in progress per day, and the finished tickets."""
        data = selectors.board_performance(board_id=int(board_id), period=period_of(request))
        return Response(data)


class FlowView(StatsView):
    serializer_class = out.FlowSerializer

    @extend_schema(parameters=PERIOD_PARAMETERS)
    def get(self, request, board_id: int):
        """Cumulative flow: for each day, the tickets in each column at the end of it."""
        data = selectors.board_flow(board_id=int(board_id), period=period_of(request))
        return Response(data)


class DragDropMetricsView(StatsView):
    serializer_class = out.DragDropSerializer

    @extend_schema(parameters=PERIOD_PARAMETERS)
    def get(self, request, board_id: int):
        """Moves in the period by source -> target column and by actor kind (human,
        agent), and refused moves by reason (wip_limit, claimed, version_conflict,
        review_required)."""
        data = selectors.drag_drop_metrics(board_id=int(board_id), period=period_of(request))
        return Response(data)
