"""The companion's front door."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("home/index.html")


@bp.get("/favicon.ico")
def favicon() -> tuple[str, int]:
    """No icon, said without an error: browsers ask for it on every first visit."""
    return "", 204
