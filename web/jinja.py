"""The Jinja2 environment of the templates the board renders by the thousand (the cards,
`web.templatetags.board_tags.render_cards`); every other page is a Django template."""

import functools
import re
from html import escape

import jinja2
from jinja2.ext import Extension

_LINE_BREAK = re.compile(r"\n\s*")


class DropLineBreaks(Extension):
    """A line break and the indentation after it are layout of the template, not markup:
    they are dropped when the template loads, at no cost per render (5,000 cards carried
    300 KB of them). Text that needs a space is written on one line."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return _LINE_BREAK.sub("", source)


# A board's cards repeat most of their text (priorities, ages, labels, people), and a
# cache hit costs a tenth of an escape.
_escape_text = functools.lru_cache(maxsize=4096)(escape)


def escaped(value: object) -> str:
    """Every value a template outputs, escaped as Django escapes (`html.escape`), unless
    it is marked safe. Jinja2's own autoescaping builds a `Markup` object per value,
    which made the board's cards three times slower to render."""
    kind = type(value)
    if kind is str:
        return _escape_text(value)
    if kind is int:
        return str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


def environment(**options) -> jinja2.Environment:
    """Django's Jinja2 backend calls this with the loader and reloading it derives from
    settings. Escaping is `escaped`'s, and a name the template does not know fails loudly."""
    options.update(autoescape=False, finalize=escaped, undefined=jinja2.StrictUndefined)
    return jinja2.Environment(extensions=[DropLineBreaks], **options)
