"""The token page: list your tokens, make one (its secret is shown once, in the answer
to the form, and kept nowhere), revoke one. Site admins also manage agents' tokens."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from agents import selectors
from agents.services import token_issue, token_revoke
from boards.access import readable_boards
from boards.models import Board
from core.errors import DomainError
from core.http import request_ip

EXPIRY_CHOICES = [("", "Never"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days")]
EXPIRY_CHOICES += [("90", "90 days"), ("365", "1 year")]


def _owner(request: HttpRequest, username: str | None):
    try:
        return selectors.token_owner(actor=request.user, username=username)
    except DomainError as error:
        raise Http404(error.message) from error


def _page(request: HttpRequest, owner, *, issued=None, form=None, status: int = 200):
    tokens = list(selectors.token_list(actor=request.user, owner=owner))
    for token in tokens:
        token.status = selectors.token_status(token)
    context = {
        "owner": owner,
        "tokens": tokens,
        "owners": selectors.token_owner_choices(actor=request.user),
        "boards": readable_boards(Board.objects.all(), owner).order_by("name", "id"),
        "expiry_choices": EXPIRY_CHOICES,
        "issued": issued,
        "form": form or {},
    }
    return render(request, "web/tokens/tokens.html", context, status=status)


def _board_ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isascii() and value.isdecimal()][:200]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, _owner(request, request.GET.get("user")))
    owner = _owner(request, request.POST.get("user"))
    days = request.POST.get("expires_days", "")
    form = {
        "name": request.POST.get("name", ""),
        "expires_days": days,
        "read_only": bool(request.POST.get("read_only")),
        "board_ids": _board_ids(request.POST.getlist("boards")),
    }
    try:
        expires_at = None
        if days:
            if not (days.isascii() and days.isdecimal() and 1 <= int(days) <= 36_500):
                raise DomainError("Pick an expiry from the list.")
            expires_at = timezone.now() + timedelta(days=int(days))
        issued = token_issue(
            actor=request.user,
            user=owner,
            name=form["name"],
            expires_at=expires_at,
            read_only=form["read_only"],
            board_ids=form["board_ids"],
            ip=request_ip(request),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return _page(request, owner, form=form, status=400)
    # Rendered in this answer rather than after a redirect, so the secret is never
    # stored anywhere (session, message cookie) on its way to the browser.
    return _page(request, owner, issued=issued)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = selectors.token_get(actor=request.user, token_id=token_id)
        token_revoke(actor=request.user, token=token, ip=request_ip(request))
    except DomainError as error:
        raise Http404(error.message) from error
    messages.success(request, f"Token “{token.name}” revoked.")
    where = reverse("tokens")
    if token.user_id != request.user.pk:
        where += "?" + urlencode({"user": token.user.username})
    return redirect(where)
