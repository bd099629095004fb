"""Claims and leases: an agent takes a ticket for a while (one conditional UPDATE, so two
agents never hold the same ticket), keeps it with heartbeats, and gives it back; leases
that run out end by themselves.

Each claim carries a fencing token, `Ticket.claim_token`, new with every claim (a
holder's renewal of a live claim keeps it). The writes a holder makes under a claim
(heartbeat, release, move, edit, comment) may name it: once the claim it names is no
longer current, they are refused with 409 `lease_lost` (`_writes.ensure_lease`), so a
worker whose lease ran out cannot overwrite the work of whoever claimed the ticket next."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from boards.access import WRITE, require_board
from boards.models import Column
from core import metrics
from core.errors import Conflict, Forbidden, NotFound, ReviewRequired
from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.models import Ticket
from tickets.selectors import ticket_queryset
from tickets.services._writes import (
    claim_conflict,
    is_board_admin,
    lock_tickets,
    new_claim_token,
    record,
    ticket_for_write,
    ticket_payload,
)
from tickets.services.placement import board_columns, column_named
from tickets.signals import TicketChange


class NothingToClaim(NotFound):
    code = "nothing_to_claim"


@metrics.counts_claims("claim")
@retry_once_on_deadlock
def ticket_claim(*, actor, ticket_id: int, lease_seconds: int | None = None) -> Ticket:
    """Claim one ticket for `lease_seconds` (the setting CLAIM_LEASE_SECONDS by default).
    Claiming a ticket you already hold renews the lease."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        ticket = ticket_for_write(ticket_id, None, actor, claim_guard=False)
        if ticket.column.requires_review:
            raise ReviewRequired(
                f"Ticket {ticket_id} waits for review in {ticket.column.name!r}: it is for "
                f"reviewing (POST /api/tickets/{ticket_id}/review), not for claiming. Move it "
                "back to claim it.",
                extra={"review_column": ticket.column.name},
            )
        blockers = _unfinished_blockers(ticket)
        if blockers:
            raise Conflict(
                f"Ticket {ticket_id} is blocked by unfinished ticket(s) "
                f"{', '.join(f'#{pk}' for pk in blockers)}.",
                code="blocked",
                extra={"blocked_by": blockers},
            )
        claimed = _take(actor=actor, ticket=ticket, now=timezone.now(), lease=lease)
        if claimed is None:
            raise claim_conflict(ticket)
    return claimed


@metrics.counts_claims("next")
@retry_once_on_deadlock
def ticket_claim_next(
    *,
    actor,
    board_id: int,
    column: str | None = None,
    labels: list[str] | None = None,
    assignee: str | None = None,
    include_assigned: bool = False,
    lease_seconds: int | None = None,
) -> Ticket:
    """Claim the best ready ticket of a column (the board's first by default), optionally
    only tickets carrying all `labels` or assigned to `assignee`. Tickets assigned to
    someone else are left to them unless `include_assigned` (or `assignee` names them)."""
    lease = _lease(lease_seconds)
    wanted_labels = rules.clean_labels(labels)
    if assignee is not None and not isinstance(assignee, str):
        raise rules.invalid("assignee", "Must be a username.")
    if not isinstance(include_assigned, bool):
        raise rules.invalid("include_assigned", "Must be true or false.")
    require_board(actor, board_id, WRITE)
    columns = board_columns(board_id)
    if not columns:
        raise NotFound(f"Board {board_id} does not exist.")
    target = columns[0] if column is None else column_named(columns, column)
    for _ in range(settings.CLAIM_NEXT_ATTEMPTS):
        try:
            with transaction.atomic():
                now = timezone.now()
                candidates = wanted_by(
                    ready_tickets(column=target, last_column_id=columns[-1].pk, now=now),
                    actor=actor,
                    labels=wanted_labels,
                    assignee=assignee,
                    include_assigned=include_assigned,
                )
                if connection.features.has_select_for_update_skip_locked:
                    # Racing agents each lock a different row instead of queueing on one.
                    # The pick reads the ticket table alone: joined, PostgreSQL plans and
                    # sorts wide rows, three times slower than picking then reading.
                    candidates = candidates.select_for_update(skip_locked=True, no_key=True)
                picked = candidates.values_list("pk", flat=True).first()
                if picked is None:
                    raise NothingToClaim(
                        f"Nothing to claim in {target.name!r} of board {board_id}."
                    )
                ticket = ticket_queryset().get(pk=picked)
                claimed = _take(actor=actor, ticket=ticket, now=now, lease=lease)
                if claimed is not None:
                    return claimed
        except OperationalError as error:
            if not _write_lock_timed_out(error):
                raise
    raise Conflict("Every ready ticket was taken while trying; try again.", code="busy")


@retry_once_on_deadlock
def ticket_heartbeat(
    *, actor, ticket_id: int, lease_seconds: int | None = None, claim_token: str | None = None
) -> Ticket:
    """Extend the holder's lease. An expired lease cannot be revived: claim again.
    The version stays: a heartbeat must not make the holder's own pending edit stale.
    With `claim_token`, only while the claim it names is current (else `lease_lost`)."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        ticket = ticket_for_write(
            ticket_id, None, actor, claim_guard=False, claim_token=claim_token
        )
        now = timezone.now()
        expires = now + lease
        extended = Ticket.objects.filter(
            pk=ticket_id, claimed_by=actor, lease_expires_at__gt=now
        ).update(lease_expires_at=expires)
        if not extended:
            if ticket.active_claimant_id(now) not in (None, actor.pk):
                raise claim_conflict(ticket)
            raise Conflict(
                f"You hold no live claim on ticket {ticket_id} (it expired or was released); "
                "claim it again.",
                code="not_claimed",
            )
        diffs = {"lease_expires_at": (_iso(ticket.lease_expires_at), expires.isoformat())}
        ticket.lease_expires_at = expires
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket_id, "updated", diffs)],
            event="ticket_updated",
            payload=ticket_payload(ticket),
        )
    return ticket


@retry_once_on_deadlock
def ticket_release(*, actor, ticket_id: int, claim_token: str | None = None) -> Ticket:
    """Give up a claim: the holder's own, or anyone's for an admin. A lease that ran out
    is nobody's claim any more: only its old holder or an admin may clear it.
    With `claim_token`, only while the claim it names is current (else `lease_lost`)."""
    with transaction.atomic():
        ticket = ticket_for_write(
            ticket_id, None, actor, claim_guard=False, claim_token=claim_token
        )
        now = timezone.now()
        holder_id = ticket.active_claimant_id(now)
        admin = is_board_admin(actor, ticket.board_id)
        if ticket.claimed_by_id is None or (
            holder_id is None and ticket.claimed_by_id != actor.pk and not admin
        ):
            raise Conflict(f"Ticket {ticket_id} is not claimed.", code="not_claimed")
        if holder_id not in (None, actor.pk) and not admin:
            raise Forbidden(
                f"Ticket {ticket_id} is claimed by {ticket.claimed_by.username}; only they "
                "or an admin may release it."
            )
        _drop_claim(actor=actor, ticket=ticket, now=now)
    return ticket


@retry_once_on_deadlock
def leases_expire(*, actor=None) -> int:
    """Clear every claim whose lease has run out, recording the expiry in history and
    telling watchers. Claims expire by themselves for `claim next`; this makes it visible."""
    expired = list(
        Ticket.objects.filter(claimed_by__isnull=False, lease_expires_at__lte=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cleared = 0
    for ticket_id in expired:
        with transaction.atomic():
            # Locked and read again: its holder may have claimed it anew meanwhile.
            lock_tickets([ticket_id])
            ticket = ticket_queryset().filter(pk=ticket_id).first()
            now = timezone.now()
            if ticket is None or ticket.claimed_by_id is None or ticket.active_claimant_id(now):
                continue
            _drop_claim(actor=actor, ticket=ticket, now=now)
            cleared += 1
    return cleared


def ticket_fence(*, actor, ticket_id: int, claim_token: str) -> Ticket:
    """For a write beside the ticket (a comment on it) that names `claim_token`, inside
    the writer's transaction: the ticket, locked until that transaction ends, once `actor`
    may write on its board (NotFound as for a missing ticket otherwise) and the claim the
    token names is current (409 `lease_lost` otherwise)."""
    if not connection.in_atomic_block:
        raise RuntimeError("ticket_fence holds its lock for the caller's transaction.")
    return ticket_for_write(ticket_id, None, actor, claim_guard=False, claim_token=claim_token)


def ready_tickets(*, column: Column, last_column_id: int, now: datetime) -> QuerySet[Ticket]:
    """Tickets of `column` that an agent may start now, best first: no live claim, and no
    blocker or subtask short of the board's last column (leaves, not parents). It reads
    the ticket table alone, so that `claim next` can lock the row it picks without
    dragging joined rows along. A column
    that requires review has none: its tickets wait for a reviewer, not for an agent."""
    if column.requires_review:
        return Ticket.objects.none()
    unfinished_blockers = Ticket.blocked_by.through.objects.filter(
        from_ticket_id=OuterRef("pk")
    ).exclude(to_ticket__column_id=last_column_id)
    # Leaves only: a parent is done when its subtasks are, and those are the work.
    unfinished_subtasks = Ticket.objects.filter(parent_id=OuterRef("pk")).exclude(
        column_id=last_column_id
    )
    return (
        Ticket.objects.filter(Q(claimed_by__isnull=True) | Q(lease_expires_at__lte=now))
        .filter(column=column)
        .filter(~Exists(unfinished_blockers))
        .filter(~Exists(unfinished_subtasks))
        # Positions are unique in a column: nothing more is needed for a total order,
        # and then the index `ticket_best_first` gives it without a sort.
        .order_by("priority", "position")
    )


# ---------------------------------------------------------------- the claim itself


def _take(*, actor, ticket: Ticket, now: datetime, lease: timedelta) -> Ticket | None:
    """The claim itself: one conditional UPDATE, won only if nobody else holds a live lease.
    `ticket` is the locked row; on success it is updated in place, the claim (and the lapse
    of the lease before it) goes to history and the board's watchers hear of it.

    The holder's renewal of a live claim keeps its token; any other claim gets a new one.
    The UPDATE asks for the token it read, so that choice is made on the row it wins."""
    expires = now + lease
    renewal = ticket.active_claimant_id(now) == actor.pk and ticket.claim_token is not None
    token = ticket.claim_token if renewal else new_claim_token()
    assignee, by_claim = _assignee_under_claim(ticket, actor, renewal=renewal)
    won = Ticket.objects.filter(
        _claimable(actor, now), pk=ticket.pk, claim_token=ticket.claim_token
    ).update(
        claimed_by=actor,
        claimed_at=now,
        lease_expires_at=expires,
        claim_token=token,
        assignee=assignee,
        assigned_by_claim=by_claim,
        version=F("version") + 1,
        updated_at=now,
    )
    if not won:
        return None
    previous = ticket.claimed_by.username if ticket.claimed_by_id else None
    diffs = {}
    if previous is not None and ticket.active_claimant_id(now) is None:
        diffs["lease_expired"] = (previous, None)
    if ticket.claimed_by_id != actor.pk:
        diffs["claimed_by"] = (previous, actor.username)
    diffs["lease_expires_at"] = (_iso(ticket.lease_expires_at), expires.isoformat())
    if assignee != ticket.assignee:
        diffs["assignee"] = (_username(ticket.assignee), _username(assignee))
        ticket.assignee = assignee
    ticket.assigned_by_claim = by_claim
    return _claim_updated(
        actor=actor,
        ticket=ticket,
        now=now,
        holder=actor,
        expires=expires,
        token=token,
        diffs=diffs,
        event="ticket_claimed",
    )


def _drop_claim(*, actor, ticket: Ticket, now: datetime) -> None:
    """End the claim on the locked `ticket` (in place), recording whether its lease had
    already run out. An assignment the claim made ends with it."""
    unassign = _assigned_by_this_claim(ticket)
    dropped = Ticket.objects.filter(
        pk=ticket.pk,
        claimed_by_id=ticket.claimed_by_id,
        lease_expires_at=ticket.lease_expires_at,
    ).update(
        claimed_by=None,
        claimed_at=None,
        lease_expires_at=None,
        claim_token=None,
        assigned_by_claim=False,
        **({"assignee": None} if unassign else {}),
        version=F("version") + 1,
        updated_at=now,
    )
    if not dropped:
        raise Conflict(f"Ticket {ticket.pk} changed meanwhile; read it again.")
    holder = ticket.claimed_by.username
    diffs = {"claimed_by": (holder, None)}
    if ticket.active_claimant_id(now) is None:
        diffs = {"lease_expired": (holder, None), **diffs}
    if unassign:
        diffs = {"assignee": (holder, None), **diffs}
        ticket.assignee = None
    ticket.assigned_by_claim = False
    _claim_updated(
        actor=actor,
        ticket=ticket,
        now=now,
        holder=None,
        expires=None,
        token=None,
        diffs=diffs,
        event="ticket_released",
    )


def _claim_updated(
    *,
    actor,
    ticket: Ticket,
    now: datetime,
    holder,
    expires,
    token: str | None,
    diffs: dict,
    event: str,
) -> Ticket:
    """Bring the locked `ticket` in line with the claim UPDATE just made (`holder` until
    `expires` under `token`, or nobody) and record the change. The token goes neither
    to history nor to the event: every reader of the board sees those."""
    claimed_at = None if holder is None else now
    ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = holder, claimed_at, expires
    ticket.claim_token = token
    ticket.version, ticket.updated_at = ticket.version + 1, now
    record(
        actor=actor,
        board_id=ticket.board_id,
        at=now,
        changes=[TicketChange(ticket.pk, "updated", diffs)],
        event=event,
        payload=ticket_payload(ticket),
    )
    return ticket


def _assigned_by_this_claim(ticket: Ticket) -> bool:
    """Whether the ticket's assignee is its claimant by the claim's own doing (not
    someone's assignment the claim found)."""
    return (
        ticket.assigned_by_claim
        and ticket.claimed_by_id is not None
        and ticket.assignee_id == ticket.claimed_by_id
    )


def _assignee_under_claim(ticket: Ticket, actor, *, renewal: bool):
    """(assignee, whether the claim made it) for `actor`'s claim of the locked `ticket`:
    a ticket with no assignee, or assigned by the claim it replaces, becomes the new
    claimant's; someone's own assignment stays."""
    if renewal:
        return ticket.assignee, ticket.assigned_by_claim
    if ticket.assignee_id is None or _assigned_by_this_claim(ticket):
        return actor, True
    return ticket.assignee, False


def _username(user) -> str | None:
    return user.username if user is not None else None


def _lease(lease_seconds) -> timedelta:
    if lease_seconds is None:
        return timedelta(seconds=settings.CLAIM_LEASE_SECONDS)
    return timedelta(seconds=rules.parse_lease_seconds(lease_seconds))


def _claimable(actor, now: datetime) -> Q:
    return Q(claimed_by__isnull=True) | Q(lease_expires_at__lte=now) | Q(claimed_by=actor)


def _unfinished_blockers(ticket: Ticket) -> list[int]:
    return sorted(
        blocker.pk
        for blocker in ticket.blocked_by.all()
        if blocker.column_id != ticket.last_column_id
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def wanted_by(
    tickets: QuerySet[Ticket],
    *,
    actor,
    labels: list[str] = (),
    assignee: str | None = None,
    include_assigned: bool = False,
) -> QuerySet[Ticket]:
    """Those of `tickets` that `claim next` may hand `actor`: carrying all `labels`;
    assigned to `assignee` if named; else, unless `include_assigned`, with no assignee
    or assigned to `actor` (work assigned to someone else is theirs)."""
    for name in labels:
        tickets = tickets.filter(
            Exists(Ticket.labels.through.objects.filter(ticket_id=OuterRef("pk"), label__name=name))
        )
    if assignee:
        tickets = tickets.filter(
            assignee__in=get_user_model().objects.filter(username=assignee).values("pk")
        )
    elif not include_assigned:
        # An assignment made by a claim that lapsed is no one's: it goes with the claim.
        by_lapsed_claim = Q(assigned_by_claim=True, assignee_id=F("claimed_by_id"))
        tickets = tickets.filter(
            Q(assignee__isnull=True) | Q(assignee_id=actor.pk) | by_lapsed_claim
        )
    return tickets


def _write_lock_timed_out(error: OperationalError) -> bool:
    """SQLite hands its one write lock to whichever waiter polls first, so under a crowd of
    claimers one can wait past the busy timeout: that is worth another attempt, not a 500.
    Only at the outermost level, where the failed BEGIN left no transaction behind."""
    return (
        connection.vendor == "sqlite" and "locked" in str(error) and not connection.in_atomic_block
    )
