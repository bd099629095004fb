"""The Webhooks page of a board: its webhooks and their deliveries, for board admins.

Plain form posts over the webhook services. A new webhook's secret is shown in the answer
to the form that made it (not after a redirect), so it is stored nowhere on its way."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from boards import access, selectors
from core.errors import DomainError, Forbidden, InvalidInput
from webhooks import selectors as webhook_selectors
from webhooks import services
from webhooks.rules import ALL_EVENTS, EVENT_TYPES

RECENT_DELIVERIES = 10


def _board_for_admin(request: HttpRequest, board_id: int):
    """The board, for its admins; 404 for who may not read it, 403 for other readers."""
    try:
        board = selectors.board_get(actor=request.user, board_id=board_id)
        access.require_board(request.user, board_id, access.ADMIN)
    except Forbidden as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        raise Http404(error.message) from error
    return board


def _page(request: HttpRequest, board, *, created=None, form=None, status: int = 200):
    webhooks = list(webhook_selectors.webhook_list(actor=request.user, board_id=board.pk))
    recent = webhook_selectors.recent_deliveries([w.pk for w in webhooks], RECENT_DELIVERIES)
    for webhook in webhooks:
        webhook.recent = recent[webhook.pk]
        webhook.all_events = webhook.events == [ALL_EVENTS]
    context = {
        "board": board,
        "webhooks": webhooks,
        "event_types": EVENT_TYPES,
        "disable_after": settings.WEBHOOKS_DISABLE_AFTER_FAILURES,
        "created": created,
        "form": form or {"url": "", "events": []},
    }
    return render(request, "web/webhooks/webhooks.html", context, status=status)


def _webhook_id(request: HttpRequest) -> int:
    raw = request.POST.get("webhook_id", "")
    if not (raw.isascii() and raw.isdecimal() and len(raw) < 20):
        raise InvalidInput("Choose a webhook.")
    return int(raw)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request: HttpRequest, board_id: int) -> HttpResponse:
    board = _board_for_admin(request, board_id)
    if request.method == "GET":
        return _page(request, board)
    operation = request.POST.get("operation", "")
    if operation == "add":
        return _add(request, board)
    where = reverse("board-webhooks-page", args=[board_id])
    try:
        if operation == "toggle":
            active = request.POST.get("active") == "1"
            webhook_id = _webhook_id(request)
            services.webhook_update(
                actor=request.user, board_id=board_id, webhook_id=webhook_id, active=active
            )
            messages.success(request, "Webhook switched on." if active else "Webhook switched off.")
        elif operation == "delete":
            services.webhook_delete(
                actor=request.user, board_id=board_id, webhook_id=_webhook_id(request)
            )
            messages.success(request, "Webhook deleted.")
        elif operation == "redeliver":
            services.delivery_redeliver(
                actor=request.user,
                board_id=board_id,
                webhook_id=_webhook_id(request),
                delivery_id=request.POST.get("delivery_id", ""),
            )
            messages.success(request, "The delivery will be sent again in a moment.")
        else:
            raise InvalidInput("Unknown operation.")
    except Forbidden as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        messages.error(request, error.message)
    return redirect(where)


def _add(request: HttpRequest, board) -> HttpResponse:
    chosen = [event for event in request.POST.getlist("events") if event in EVENT_TYPES]
    form = {"url": request.POST.get("url", "").strip(), "events": chosen}
    try:
        webhook, secret = services.webhook_create(
            actor=request.user,
            board_id=board.pk,
            url=form["url"],
            events=chosen or None,  # none ticked: every event
        )
    except Forbidden as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        messages.error(request, error.message)
        return _page(request, board, form=form, status=400)
    return _page(request, board, created={"webhook": webhook, "secret": secret})


urlpatterns = [
    path("boards/<int:board_id>/webhooks/", webhooks_page, name="board-webhooks-page"),
]
