"""The forge settings of a board (GitHub, GitLab, Gitea), linked from its Webhooks and
Members pages: set or clear each hook's secret, pick the columns a pull request's opening
and merging move its tickets to, and read the hook URLs to paste into the forge. Board
admins only; the secrets are write-only here too."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from boards import selectors as board_selectors
from core.errors import DomainError, Forbidden, NotFound
from forge.rules import FORGE_NAMES, FORGES, SECRET_MAX, SECRET_MIN
from forge.selectors import forge_settings_get, forge_settings_shown
from forge.services import forge_settings_update


def _settings_or_refusal(request: HttpRequest, board_id: int):
    try:
        return forge_settings_get(actor=request.user, board_id=board_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except Forbidden as error:
        raise PermissionDenied(error.message) from error


def _changes(post) -> dict:
    """The service's fields from one of the page's forms (`operation` names which)."""
    operation, forge = post.get("operation", ""), post.get("forge", "")
    if operation == "set" and forge in FORGES:
        if not post.get("secret"):
            raise DomainError("Type the secret to save (Clear removes one).")
        return {f"{forge}_secret": post["secret"]}
    if operation == "clear" and forge in FORGES:
        return {f"{forge}_secret": None}
    if operation == "rules":
        return {rule: post.get(rule) or None for rule in ("on_pr_opened", "on_pr_merged")}
    raise DomainError("Unknown operation.")


def _saved_message(changes: dict) -> str:
    for forge in FORGES:
        if f"{forge}_secret" in changes:
            done = "saved" if changes[f"{forge}_secret"] else "cleared"
            return f"{FORGE_NAMES[forge]} secret {done}."
    return "Rules saved."


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def board_forge(request: HttpRequest, board_id: int) -> HttpResponse:
    settings = _settings_or_refusal(request, board_id)
    where = reverse("board-forge-page", args=[board_id])
    if request.method == "POST":
        try:
            changes = _changes(request.POST)
            forge_settings_update(actor=request.user, board_id=board_id, **changes)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _saved_message(changes))
        return redirect(where)
    shown = forge_settings_shown(settings)
    context = {
        "board": board_selectors.board_get(actor=request.user, board_id=board_id),
        "columns": board_selectors.board_columns(board_id=board_id),
        "settings": shown,
        "forges": [
            {
                "key": forge,
                "name": FORGE_NAMES[forge],
                "is_set": shown[f"{forge}_secret_set"],
                "url": request.build_absolute_uri(f"/api/hooks/{forge}/{board_id}"),
            }
            for forge in FORGES
        ],
        "secret_min": SECRET_MIN,
        "secret_max": SECRET_MAX,
    }
    return render(request, "web/forge/forge.html", context)


urlpatterns = [
    path("boards/<int:board_id>/forge/", board_forge, name="board-forge-page"),
]
