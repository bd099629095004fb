"""The one template of the cards (templates/jinja2/web/boards/cards.jinja): the board page and
the card fragments the live updates fetch show the same markup, escaped as Django
escapes."""

import re

import jinja2
import pytest
from django.template import TemplateDoesNotExist, engines
from django.template.loader import get_template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from tests.factories import add_member, make_agent, make_ticket
from tickets.selectors import ticket_list, with_board_relations
from tickets.services import ticket_claim, ticket_set_dependencies
from web.boards import CARD_FIELDS
from web.jinja import escaped
from web.templatetags.board_tags import CARDS_TEMPLATE, card_context, render_cards

pytestmark = pytest.mark.django_db

HOSTILE = """<script>alert("x")</script> & 'quotes' {{ card.id }} {% if %}"""


def page_cards(html: str) -> dict[int, str]:
    """Each card on a page or in a fragment, by id, with the line break that ends it."""
    found = re.findall(r'<article class="card[^>]*? data-id="(\d+)".*?</article>\n', html, re.S)
    cards = re.findall(r'<article class="card.*?</article>\n', html, re.S)
    return dict(zip((int(pk) for pk in found), cards, strict=True))


@pytest.fixture
def cards_of_every_shape(user, board):
    """Blocked and not, claimed by an agent and by a person, labels (hostile ones too),
    an assignee, and a card with nothing but its title."""
    agent, _ = make_agent("claude-card")
    add_member(board, agent, "agent")
    plain = make_ticket(user, board, "Plain")
    hostile = make_ticket(
        user, board, HOSTILE, labels=['<b>"bold"</b>', "a&b", "ui"], assignee=user.username
    )
    blocker = make_ticket(user, board, "Blocker", column="In Progress", priority="critical")
    blocked = make_ticket(user, board, "Blocked one", priority="low", labels=["ui"])
    ticket_set_dependencies(actor=user, ticket_id=blocked.pk, blocked_by=[blocker.pk])
    by_agent = make_ticket(user, board, "Claimed by an agent", assignee=user.username)
    ticket_claim(actor=agent, ticket_id=by_agent.pk)
    by_person = make_ticket(user, board, "Claimed by a person", priority="high")
    ticket_claim(actor=user, ticket_id=by_person.pk)
    return [plain, hostile, blocker, blocked, by_agent, by_person]


def test_page_and_fragments_show_the_same_card_markup(api, board, cards_of_every_shape):
    page = page_cards(api.get(f"/boards/{board.pk}/").content.decode())
    ids = ",".join(str(ticket.pk) for ticket in cards_of_every_shape)
    several = page_cards(api.get(f"/boards/{board.pk}/cards/", {"ids": ids}).content.decode())

    assert set(page) == set(several) == {ticket.pk for ticket in cards_of_every_shape}
    for ticket in cards_of_every_shape:
        one = api.get(f"/boards/{board.pk}/cards/{ticket.pk}/").content.decode()
        assert one == page[ticket.pk] == several[ticket.pk]
    hostile = page[cards_of_every_shape[1].pk]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27;" in hostile
    assert "{{ card.id }} {% if %}" in hostile  # text, not template
    assert "&lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in hostile and "a&amp;b" in hostile
    assert "is-blocked" in page[cards_of_every_shape[3].pk]
    assert "badge-claim is-agent" in page[cards_of_every_shape[4].pk]
    assert "is-claimed" in page[cards_of_every_shape[5].pk]
    assert "is-agent" not in page[cards_of_every_shape[5].pk]


def test_cards_escape_as_django_escapes(user, board, cards_of_every_shape):
    now = timezone.now()
    tickets = ticket_list(actor=user, board_id=board.pk).select_related(None)
    tickets = tickets.select_related("assignee", "claimed_by").only(*CARD_FIELDS)
    reason = 'Longer than "usual" <here>'
    cards = [
        card_context(ticket, now, {"color": "amber", "reason": reason})
        for ticket in with_board_relations(tickets, board.pk)
    ]
    html = render_cards(cards)

    assert html.count("<article ") == html.count("</article>\n") == len(cards)
    assert f'title="{conditional_escape(reason)}"' in html and "age-amber" in html
    for card in cards:
        assert f">{conditional_escape(card.title)}</a>" in html


@pytest.mark.parametrize(
    "value",
    ["a <b>\"c\"</b> & 'd'", "plain", "", 0, 1234, None, True, 3.5, ["<x>"]],
)
def test_values_are_escaped_as_django_escapes(value):
    assert escaped(value) == conditional_escape(value)


def test_values_marked_safe_are_kept():
    assert escaped(mark_safe("<i>safe</i>")) == "<i>safe</i>"
    html = engines["jinja2"].from_string("{{ text }}|{{ text|safe }}").render({"text": "<i>"})
    assert html == "&lt;i&gt;|<i>"


def test_line_breaks_and_their_indentation_are_layout_not_markup():
    source = (
        "<ul>\n  <li>one two</li>\n  {% if on %}\n"
        "    <li>{{ name }} · end</li>\n  {% endif %}\n</ul>"
    )
    html = engines["jinja2"].from_string(source).render({"on": True, "name": "x & y"})
    assert html == "<ul><li>one two</li><li>x &amp; y · end</li></ul>"


def test_a_name_the_template_does_not_know_fails_loudly():
    with pytest.raises(jinja2.UndefinedError):
        engines["jinja2"].from_string("{{ card.nope }}").render({"card": {}})


def test_the_pages_stay_django_templates(api, board, user):
    make_ticket(user, board, "Only card")
    response = api.get(f"/boards/{board.pk}/")
    names = [template.name for template in response.templates]
    assert names[0] == "web/boards/board.html"
    assert "boards/board.html" not in names  # the templates live in the web app's folder
    assert get_template(CARDS_TEMPLATE, using="jinja2")
    with pytest.raises(TemplateDoesNotExist):
        get_template("web/boards/board.html", using="jinja2")
