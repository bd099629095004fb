"""The audit page (/audit/): recent security events with filters, for site admins."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit import selectors
from core.errors import DomainError


@login_required
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    filters = {
        "action": request.GET.get("action", "").strip()[:50],
        "user": request.GET.get("user", "").strip()[:150],
        "board": request.GET.get("board", "").strip()[:20],
    }
    try:
        selectors.require_audit_reader(request.user)
    except DomainError as error:
        raise Http404(error.message) from error
    try:
        board_id = selectors.parse_board_id(filters["board"])
    except DomainError as error:
        messages.error(request, error.message)
        board_id, filters["board"] = None, ""
    events = selectors.audit_events(
        actor=request.user,
        action=filters["action"] or None,
        username=filters["user"] or None,
        board_id=board_id,
    )
    page = Paginator(events, settings.AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "actions": selectors.audit_actions(),
        "query": urlencode({key: value for key, value in filters.items() if value}),
    }
    return render(request, "audit/events.html", context)
