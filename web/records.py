"""Accounts, contacts, opportunities and projects: every action linked to one, as a timeline
by date that keeps each chain's order (agenda.timeline), the next step highlighted; and the
opportunities left with no next step."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from server import agenda, model
from web.actions import KIND_LABELS, LINK_LABELS
from web.auth import login_required
from web.calendar import page_url, store, user_items, zone

bp = Blueprint("records", __name__, url_prefix="/records")

PLURALS = {"account": lazy_gettext("Accounts"), "contact": lazy_gettext("Contacts"),
           "opportunity": lazy_gettext("Opportunities"), "project": lazy_gettext("Projects")}


def _kind(kind: str) -> str:
    if kind not in model.LINK_KINDS:
        abort(404)
    return kind


@bp.get("/<kind>")
@login_required
def index(kind: str) -> ResponseReturnValue:
    kind = _kind(kind)
    found = agenda.records(user_items(g.user), kind)
    waiting = [r for r in found if not r.open]
    return _render("records/index.html", kind=kind, records=found, waiting=waiting,
                   next_step=agenda.next_step)


def _render(template: str, **context: object) -> str:
    """A records template with the labels every one of them uses."""
    return render_template(template, plurals=PLURALS, link_labels=LINK_LABELS,
                           kind_labels=KIND_LABELS, page_url=page_url, **context)


def _record(kind: str, uri: str) -> agenda.Record:
    """The signed-in user's record of that kind and URI; 404 if they have none."""
    found = agenda.record(user_items(g.user), kind, uri)
    if found is None:
        abort(404)
    return found


@bp.get("/<kind>/view")
@login_required
def show(kind: str) -> ResponseReturnValue:
    kind = _kind(kind)
    found = _record(kind, request.args.get("uri", ""))
    return _render("records/show.html", kind=kind, record=found,
                   next=agenda.next_step(found.items))


@bp.post("/<kind>/plan")
@login_required
def plan(kind: str) -> ResponseReturnValue:
    """Plan the next step of a record with none: a task after its last action, same links."""
    kind = _kind(kind)
    found = _record(kind, request.form.get("uri", ""))
    upcoming = agenda.next_step(found.items)
    if upcoming is not None:  # planned meanwhile (or a double click): open that one
        return redirect(page_url(upcoming.path), code=303)
    last = agenda.tail(found)
    due = model.default_due("task", dt.datetime.now(zone()).date())
    summary = model.fit_summary(_("Plan the next step: %(label)s", label=found.link.label))
    _closed, successor = store().close_and_create(last.path, summary, due, "task",
                                                  last.action.sequence)
    back = url_for("records.show", kind=kind, uri=found.link.uri)
    return redirect(f"{page_url(successor.path)}?{urlencode({'back': back})}", code=303)
