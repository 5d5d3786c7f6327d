"""User text as the list pages show it: an untitled action gets a placeholder, a very long
title is cut. Calendar apps let people write anything in a title (nothing at all, or
100,000 characters pasted by mistake); a list row, a week cell or a message must stay a line."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from markupsafe import Markup

SHORT = 120  # characters of a title on a list row, a week cell, a message


def shorten(text: str, limit: int = SHORT) -> str:
    """`text` cut to `limit` characters, an ellipsis saying so; `limit` 0 keeps it whole."""
    if not limit or len(text) <= limit:
        return text
    return text[:limit - 1] + "…"


def headline(summary: str, limit: int = SHORT) -> str:
    """An action's title for display: shortened, or "(no summary)" when it has none."""
    return shorten(summary, limit) if summary.strip() else _("(no summary)")


def isolated(text: str) -> Markup:
    """User text in <bdi>: a bidi control in it (U+202E) cannot reorder what follows it on
    the row, and right-to-left titles show right to left. The text itself is escaped."""
    return Markup("<bdi>{}</bdi>").format(text)


def init_app(app: Flask) -> None:
    app.add_template_filter(shorten, "shorten")
    app.add_template_filter(headline, "headline")
    app.add_template_filter(isolated, "isolated")
