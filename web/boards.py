"""The board pages: thin adapters over the selectors (reads) and services (writes).

The dashboard writes with plain form posts; the board page's JavaScript writes through
the REST API with the session, and fetches the fragments below to show the result."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boards import access, selectors, services
from boards.models import Column, Role
from comments.selectors import ticket_comments
from core.errors import DomainError, Forbidden, InvalidInput, NotFound
from history.selectors import ticket_history
from stats.selectors import board_ticket_colors
from tickets.models import Label, Priority
from tickets.selectors import (
    attach_relations,
    awaiting_review_by,
    ticket_dependencies,
    ticket_get,
    ticket_links,
    ticket_list,
)
from tickets.services.review import review_obstacle
from web.forms import BoardFilters
from web.templatetags.board_tags import card_context, render_cards
from web.templatetags.timeline import timeline

CARDS_PER_REQUEST = 500
# A long column is sent a screenful at a time: the page holds the first cards of each
# column and board.js fetches the next ones as the column scrolls (`cards_fragment`
# with `column`). 10,000 cards in the page cost 1.3 s to render and 0.9 s to parse.
FIRST_CARDS = 40
# A redraw of the page (after a columns change or a missed event) asks for as many cards
# per column as the page had loaded (`?cards=`), so a scrolled column keeps its place.
MOST_FIRST_CARDS = 2 * CARDS_PER_REQUEST
CARD_FIELDS = [
    "id",
    "board_id",
    "column_id",
    "version",
    "priority",
    "title",
    "position",
    "column_entered_at",
    "lease_expires_at",
    "assignee__username",
    "claimed_by__username",
    "claimed_by__is_agent",
    # The claimant's progress line.
    "claimed_at",
    "progress_status",
    "progress_percent",
    "progress_at",
]


def _board_or_404(request: HttpRequest, board_id: int):
    """The board, or a 404 when it is missing or the user may not read it."""
    try:
        return selectors.board_get(actor=request.user, board_id=board_id)
    except DomainError as error:
        raise Http404(error.message) from error


def _rights(request: HttpRequest, board_id: int) -> dict:
    """What the page offers: viewers get a read-only board (the server refuses anyway)."""
    return {
        "can_write": access.can(request.user, board_id, access.WRITE),
        "can_admin": access.can(request.user, board_id, access.ADMIN),
    }


def _column_counts(board_ids: list[int]) -> dict[int, list[dict]]:
    """Every column of the boards with its ticket count, in one query."""
    columns = (
        Column.objects.filter(board_id__in=board_ids)
        .annotate(ticket_count=Count("tickets"))
        .order_by("board_id", "position")
    )
    by_board: dict[int, list[dict]] = {board_id: [] for board_id in board_ids}
    for column in columns:
        by_board[column.board_id].append(
            {
                "name": column.name,
                "count": column.ticket_count,
                "wip_limit": column.wip_limit,
                "is_full": column.wip_limit is not None and column.ticket_count >= column.wip_limit,
            }
        )
    return by_board


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    boards = list(selectors.board_list(actor=request.user))
    counts = _column_counts([board.pk for board in boards])
    roles = selectors.board_roles(actor=request.user)
    for board in boards:
        board.role = roles.get(board.pk)
        board.column_counts = counts[board.pk]
        total = sum(column["count"] for column in board.column_counts)
        for index, column in enumerate(board.column_counts):
            column["share"] = round(100 * column["count"] / total, 2) if total else 0
            column["hue"] = (210 + index * 47) % 360
    return render(request, "web/boards/dashboard.html", {"boards": boards})


def _back_with_error(request: HttpRequest, error: DomainError, where: str) -> HttpResponse:
    if isinstance(error, Forbidden):
        raise PermissionDenied(error.message)
    if isinstance(error, NotFound):
        raise Http404(error.message)
    messages.error(request, error.message)
    return redirect(where)


@login_required
@require_POST
def board_create(request: HttpRequest) -> HttpResponse:
    names = [name.strip() for name in request.POST.get("columns", "").split(",") if name.strip()]
    try:
        board = services.board_create(
            actor=request.user,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            columns=names or None,
        )
    except DomainError as error:
        return _back_with_error(request, error, "dashboard")
    messages.success(request, f"Board “{board.name}” created.")
    return redirect("board", board_id=board.pk)


@login_required
@require_POST
def board_rename(request: HttpRequest, board_id: int) -> HttpResponse:
    _board_or_404(request, board_id)
    try:
        board = services.board_update(
            actor=request.user, board_id=board_id, name=request.POST.get("name", "")
        )
    except DomainError as error:
        return _back_with_error(request, error, "dashboard")
    messages.success(request, f"Board renamed to “{board.name}”.")
    return redirect("dashboard")


@login_required
@require_http_methods(["GET", "POST"])
def board_delete(request: HttpRequest, board_id: int) -> HttpResponse:
    """GET asks for confirmation (the dashboard asks in a dialog and posts straight here)."""
    board = _board_or_404(request, board_id)
    if request.method == "GET":
        return render(request, "web/boards/board_delete.html", {"board": board})
    try:
        services.board_delete(actor=request.user, board_id=board_id)
    except DomainError as error:
        return _back_with_error(request, error, "dashboard")
    messages.success(request, f"Board “{board.name}” deleted.")
    return redirect("dashboard")


def _filtered_tickets(request: HttpRequest, board_id: int, filters: BoardFilters, now):
    tickets = ticket_list(actor=request.user, board_id=board_id, **filters.selector_kwargs())
    if filters.claimed:
        tickets = tickets.filter(claimed_by__is_agent=True, lease_expires_at__gt=now)
    if filters.review:
        tickets = awaiting_review_by(tickets, actor=request.user, board_id=board_id, now=now)
    return tickets


def _card_tickets(request: HttpRequest, board_id: int, filters: BoardFilters, now):
    """The tickets the page shows, read as a card needs them: what a card shows
    (web.templatetags.board_tags.card_context) and no more (no description, column or
    author rows); labels and blockers are attached to the cards sent (`attach_relations`)."""
    tickets = _filtered_tickets(request, board_id, filters, now)
    return tickets.select_related(None).select_related("assignee", "claimed_by").only(*CARD_FIELDS)


def _with_column_cards(tickets):
    """`tickets` without their relations, each carrying `column_rank`, its place in its
    column in board order, and `column_cards`, how many of `tickets` its column holds:
    a window over the rows read, so the count costs no query of its own."""
    column = F("column_id")
    return tickets.prefetch_related(None).annotate(
        column_rank=Window(RowNumber(), partition_by=column, order_by=[F("position"), F("id")]),
        column_cards=Window(Count("pk"), partition_by=column),
    )


def _first_cards(tickets, limit: int) -> list:
    """The first `limit` of `tickets` in each column, in board order, in one query."""
    ranked = _with_column_cards(tickets).filter(column_rank__lte=limit)
    return list(ranked.order_by("column_id", "position", "id"))


def _shown_per_column(tickets) -> dict[int, int]:
    """{column id: how many of `tickets` it holds}: what the page shows of each column."""
    rows = tickets.order_by().values("column_id").annotate(n=Count("pk", distinct=True))
    return {row["column_id"]: row["n"] for row in rows}


def _column_page(tickets, column_id: int, after: str | None, limit: int) -> tuple[list, int]:
    """The first `limit` of `tickets` in the column, in board order, after the card at
    position `after` (a column's positions are unique), and how many follow them."""
    rest = tickets.filter(column_id=column_id)
    if after:
        rest = rest.filter(position__gt=after)
    page = list(_with_column_cards(rest).order_by("position", "id")[:limit])
    return page, (page[0].column_cards - len(page) if page else 0)


@login_required
@require_GET
def board_page(request: HttpRequest, board_id: int) -> HttpResponse:
    # The sequence number is read before the tickets: an event that lands in between
    # is replayed to the page and applied again, which is harmless; one missed is not.
    board = _board_or_404(request, board_id)
    filters = BoardFilters.from_query(request.GET)
    now = timezone.now()
    columns = selectors.board_columns(board_id=board_id)
    review_column_ids = {column["id"] for column in columns if column["requires_review"]}
    asked = _parse_ids(request.GET.get("cards", ""))
    per_column = min(max(asked[0], FIRST_CARDS), MOST_FIRST_CARDS) if asked else FIRST_CARDS
    first = _first_cards(_card_tickets(request, board_id, filters, now), per_column)
    attach_relations(first)
    colours = board_ticket_colors(board_id, [ticket.pk for ticket in first])
    pages: dict[int, list] = {column["id"]: [] for column in columns}
    counts: dict[int, int] = {}
    for ticket in first:
        pages[ticket.column_id].append(ticket)
        counts[ticket.column_id] = ticket.column_cards
    # The markup here rather than `{% render_cards column.cards %}` in the page: Django's
    # template context is a reference cycle, and the card dicts (and their tickets)
    # reachable from it would wait for the garbage collector.
    for column in columns:
        page = pages[column["id"]]
        column["cards_html"] = render_cards(
            [
                card_context(ticket, now, colours.get(ticket.pk), review_column_ids)
                for ticket in page
            ]
        )
        # Cards of the column (as filtered) after the ones sent: fetched as it scrolls.
        column["more"] = max(0, counts.get(column["id"], 0) - len(page))
    shown = sum(counts.values())
    total = sum(column["ticket_count"] for column in columns)
    context = {
        "board": board,
        "columns": columns,
        "filters": filters,
        "shown": shown,
        "total": total,
        "labels": Label.objects.filter(board_id=board_id).order_by("name"),
        "users": selectors.board_people(board_id=board_id),
        "priorities": [member.label for member in Priority],
        **_rights(request, board_id),
    }
    return render(request, "web/boards/board.html", context)


def _parse_ids(raw: str) -> list[int]:
    ids = []
    for part in raw.split(",")[:CARDS_PER_REQUEST]:
        part = part.strip()
        if part.isascii() and part.isdecimal() and len(part) < 19:
            ids.append(int(part))
    return ids


@login_required
@require_GET
def cards_fragment(request: HttpRequest, board_id: int, ticket_id: int | None = None):
    """The cards named by `ids` (or the one in the path) that match the page's filters,
    rendered as the page renders them (`render_cards`, the one card template). A card
    left out is gone or filtered out.

    With `column` (and `after`, the position of the last card the page holds, and
    `limit`): the column's next cards as filtered, as JSON {"html", "more"}, `more`
    being how many follow those. With `counts`: {"columns": {id: cards as filtered}}."""
    _board_or_404(request, board_id)
    if "column" in request.GET or "counts" in request.GET:
        return _column_cards(request, board_id)
    ids = [ticket_id] if ticket_id is not None else _parse_ids(request.GET.get("ids", ""))
    filters = BoardFilters.from_query(request.GET)
    now = timezone.now()
    # A few cards (one per live event): prefetching by id beats reading the whole board's links.
    tickets = list(_filtered_tickets(request, board_id, filters, now).filter(pk__in=ids))
    html = _cards_html(board_id, tickets, now)
    if ticket_id is not None and not html:
        # 204 says "not on this board as filtered", so the page drops the card.
        return HttpResponse(status=204)
    return HttpResponse(html)


def _column_cards(request: HttpRequest, board_id: int) -> JsonResponse:
    filters = BoardFilters.from_query(request.GET)
    now = timezone.now()
    tickets = _card_tickets(request, board_id, filters, now)
    if "counts" in request.GET:
        counts = _shown_per_column(tickets)
        return JsonResponse({"columns": {str(pk): n for pk, n in counts.items()}})
    column_id = (_parse_ids(request.GET.get("column", "")) or [0])[0]
    limits = _parse_ids(request.GET.get("limit", ""))
    limit = max(1, min(limits[0] if limits else FIRST_CARDS, CARDS_PER_REQUEST))
    after = request.GET.get("after", "")[:255] or None
    page, more = _column_page(tickets, column_id, after, limit)
    attach_relations(page)
    return JsonResponse({"html": str(_cards_html(board_id, page, now)), "more": more})


def _cards_html(board_id: int, tickets: list, now) -> str:
    """Cards fetched after the page: their colours and the board's review columns read
    for these tickets alone (nothing when there are none)."""
    if not tickets:
        return render_cards([])
    colours = board_ticket_colors(board_id, [ticket.pk for ticket in tickets])
    review_column_ids = set(
        Column.objects.filter(board_id=board_id, requires_review=True).values_list("pk", flat=True)
    )
    return render_cards(
        [card_context(ticket, now, colours.get(ticket.pk), review_column_ids) for ticket in tickets]
    )


def _ticket_on_board(request: HttpRequest, board_id: int, ticket_id: int):
    try:
        ticket = ticket_get(actor=request.user, ticket_id=ticket_id)
    except DomainError as error:
        raise Http404(error.message) from error
    if ticket.board_id != board_id:
        raise Http404("No such card on this board.")
    return ticket


def _review_offer(request: HttpRequest, board, ticket, now) -> dict | None:
    """What the card detail offers for a ticket waiting in a review column: whether the
    viewer may approve or request changes (a board admin's own work only as an audited
    override), and if not, why."""
    if not ticket.column.requires_review:
        return None
    if not access.can(request.user, board.pk, access.WRITE):
        return {"may": False, "override": False, "reason": "Your role on this board may only read."}
    obstacle = review_obstacle(request.user, ticket, review_by=board.review_by, now=now)
    if obstacle is None:
        return {"may": True, "override": False, "reason": ""}
    code, reason = obstacle
    override = code == "self_review" and access.can(request.user, board.pk, access.ADMIN)
    return {"may": override, "override": override, "reason": reason}


@login_required
@require_GET
def ticket_detail(request: HttpRequest, board_id: int, ticket_id: int) -> HttpResponse:
    """The card detail shown in the board page's dialog; opened directly, it is the
    board page with the dialog open."""
    if request.headers.get("X-Fragment") != "1":
        return redirect(f"{reverse('board', args=[board_id])}?card={ticket_id}")
    board = _board_or_404(request, board_id)
    ticket = _ticket_on_board(request, board_id, ticket_id)
    now = timezone.now()
    context = {
        "board": board,
        "ticket": ticket,
        "card": card_context(ticket, now),
        "review": _review_offer(request, board, ticket, now),
        "dependencies": ticket_dependencies(actor=request.user, ticket_id=ticket_id),
        "links": ticket_links(ticket),
        "comments": ticket_comments(actor=request.user, ticket_id=ticket_id),
        "timeline": timeline(ticket_history(actor=request.user, ticket_id=ticket_id)),
        "users": selectors.board_people(board_id=board_id),
        "labels": Label.objects.filter(board_id=board_id).order_by("name"),
        "priorities": [member.label for member in Priority],
        **_rights(request, board_id),
    }
    return render(request, "web/boards/_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def board_members(request: HttpRequest, board_id: int) -> HttpResponse:
    """Who is on the board with which role; board admins add people by username, change
    roles and remove people here (everyone else sees the list)."""
    board = _board_or_404(request, board_id)
    if request.method == "POST":
        return _change_members(request, board_id)
    context = {
        "board": board,
        "members": selectors.board_members(actor=request.user, board_id=board_id),
        "roles": Role.choices,
        **_rights(request, board_id),
    }
    return render(request, "web/boards/members.html", context)


def _change_members(request: HttpRequest, board_id: int) -> HttpResponse:
    where = reverse("board-members-page", args=[board_id])
    operation = request.POST.get("operation", "")
    try:
        if operation == "add":
            username = request.POST.get("username", "").strip()
            # Admins only may learn whether a username exists.
            access.require_board(request.user, board_id, access.ADMIN)
            user = selectors.user_by_username(username)
            if user is None:
                raise InvalidInput(f"No active user named {username!r}.")
            user_id = user.pk
        else:
            user_id = _parse_ids(request.POST.get("user_id", ""))[:1]
            if not user_id:
                raise InvalidInput("Choose a member.")
            user_id = user_id[0]
        if operation == "remove":
            services.membership_remove(actor=request.user, board_id=board_id, user_id=user_id)
            messages.success(request, "Member removed.")
        elif operation in ("add", "change"):
            services.membership_set(
                actor=request.user,
                board_id=board_id,
                user_id=user_id,
                role=request.POST.get("role", ""),
            )
            messages.success(request, "Membership saved.")
        else:
            raise InvalidInput("Unknown operation.")
    except DomainError as error:
        return _back_with_error(request, error, where)
    return redirect(where)
