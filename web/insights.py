"""The Insights page of a board. Its charts are drawn in the browser (static/js/insights.js)
from the JSON statistics endpoints, so page and API always show the same figures."""

from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from boards.access import READ, can
from boards.models import Board
from core.errors import DomainError
from stats.periods import DEFAULT_DAYS, period_from


def _initial_period(request: HttpRequest):
    """The period in the address, or the default one when it is absent or invalid (the
    page then shows the default and the API explains what was wrong)."""
    try:
        return period_from(
            first_day=_date(request.GET.get("from")), last_day=_date(request.GET.get("to"))
        )
    except (DomainError, ValueError):
        return period_from()


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@login_required
@require_GET
def insights(request: HttpRequest, board_id: int) -> HttpResponse:
    board = Board.objects.filter(pk=board_id).first()
    if board is None or not can(request.user, board_id, READ):
        raise Http404(f"Board {board_id} does not exist.")
    period = _initial_period(request)
    api = {
        name: reverse(f"stats-{name}", kwargs={"board_id": board.pk})
        for name in ("flow", "performance", "colors", "statistics")
    }
    context = {
        "board": board,
        "period": period,
        "default_days": DEFAULT_DAYS,
        "api": api,
        "window_days": settings.STATS_WINDOW_DAYS,
        "min_samples": settings.STATS_MIN_SAMPLES,
    }
    return render(request, "web/insights/insights.html", context)
