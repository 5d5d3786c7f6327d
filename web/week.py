"""The week planner (Koban's "semainier"): Monday to Sunday, events at their times, tasks on
their due day, closed actions struck through."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, render_template, request
from flask.typing import ResponseReturnValue

from server import agenda
from web.actions import KIND_LABELS
from web.auth import login_required
from web.calendar import page_url, user_items, zone

bp = Blueprint("week", __name__, url_prefix="/week")


@bp.get("")
@login_required
def show() -> ResponseReturnValue:
    today = dt.datetime.now(zone()).date()
    error = ""
    try:
        wanted = dt.date.fromisoformat(request.args.get("date", "")) \
            if request.args.get("date") else today
    except ValueError:
        wanted, error = today, "date"
    if not dt.date(1900, 1, 8) <= wanted <= dt.date(9999, 12, 24):  # a week either side
        wanted, error = today, "date"
    items = user_items(g.user)
    days = agenda.week(items, wanted, zone())
    monday = agenda.monday_of(wanted)
    return render_template(
        "week/week.html", days=days, today=today, monday=monday,
        sunday=monday + dt.timedelta(days=6),
        previous=(monday - dt.timedelta(days=7)).isoformat(),
        following=(monday + dt.timedelta(days=7)).isoformat(),
        bad_date=error, kind_labels=KIND_LABELS, page_url=page_url,
        undated=len(agenda.undated(items)),  # on no day: the overdue page lists them
        is_time=lambda when: isinstance(when, dt.datetime)), 400 if error else 200
