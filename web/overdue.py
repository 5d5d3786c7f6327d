"""Overdue actions: the user's open actions past their date, oldest first, each closable in
place, and a bulk close that asks, per action, whether to create the next one."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from server import agenda, model
from server.store import AlreadyClosed, Closing, Conflict, Stored
from server.tokens import TokenError
from web.actions import (
    DELAYS,
    KIND_LABELS,
    LINK_LABELS,
    OUTCOME_LIMIT,
    as_typed,
    close_and_create_one,
    kept_next,
    proposed_due,
    read_next_form,
    suggestion,
)
from web.auth import login_required
from web.calendar import owns, page_url, store, tokens, user_items, zone
from web.i18n import moment
from web.text import headline

bp = Blueprint("overdue", __name__, url_prefix="/overdue")
PAGE_SIZE = 50
LINKED, LINK_TITLE = 10, 60  # closed actions a bulk close's message links, title length


def _context() -> dict:
    return {"kind_labels": KIND_LABELS, "link_labels": LINK_LABELS, "kinds": model.KINDS,
            "delays": DELAYS, "suggestion": suggestion, "token": tokens().make,
            "proposed_due": lambda action: proposed_due(action, _today())}


def _today():
    return dt.datetime.now(zone()).date()


@bp.get("")
@login_required
def show() -> ResponseReturnValue:
    everything = user_items(g.user)
    items = agenda.overdue(everything, model.utcnow(), zone())
    # Oldest first, a page at a time: hundreds of rows, each with its forms, would make a
    # page of megabytes that no phone wants.
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(_page_number(request.args.get("page")), 1), pages)
    shown = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    # Actions with no date are never overdue, and on no day of the week: without this
    # section only `followup list` would show them. On the first page, at most a page.
    undated = agenda.undated(everything) if page == 1 else []
    return render_template("overdue/list.html", items=shown, total=len(items), page=page,
                           pages=pages, undated=undated[:PAGE_SIZE],
                           undated_total=len(undated), **_context())


def _page_number(text: str | None) -> int:
    try:
        return int(text) if text else 1
    except ValueError:
        return 1


def _selected(names: list[str], open_only: bool = True) -> list[Stored]:
    """The user's own items named by the tokens posted; anything else is ignored. A closed
    one too unless `open_only`: the second step must say what became of an action closed
    while its form was being filled in, not skip it without a word."""
    chosen = []
    for token in dict.fromkeys(names):
        try:
            path = tokens().read(token)
        except TokenError:
            continue
        if owns(g.user, path):
            found = store().find(path)
            if found is not None and not (open_only and found.action.closed):
                chosen.append(found)
    return chosen


@bp.post("/close-selected")
@login_required
def confirm() -> ResponseReturnValue:
    """Step 1 of the bulk close: ask, for each selected action, whether a next one follows."""
    chosen = _selected(request.form.getlist("t"))
    if not chosen:
        flash(_("Select at least one action to close."))
        return redirect(url_for("overdue.show"), code=303)
    rows = [{"stored": s, "token": tokens().make(s.path), "form": suggestion(s.action),
             "choice": "next"} for s in chosen]
    return render_template("overdue/confirm.html", rows=rows, **_context())


@bp.post("/close-many")
@login_required
def close_many() -> ResponseReturnValue:
    """Step 2: close each one, creating its next action where that was chosen."""
    chosen = _selected(request.form.getlist("t"), open_only=False)
    rows, errors = [], []
    for stored in chosen:
        token = tokens().make(stored.path)
        choice = request.form.get(f"choice-{token}", "next")
        row = {"stored": stored, "token": token, "choice": choice,
               "outcome": request.form.get(f"outcome-{token}", ""),
               "form": {n: request.form.get(f"{n}-{token}", "").strip()
                        for n in ("summary", "due", "kind")}}
        try:
            if choice == "next":
                row["form"], row["when"], row["kind"] = read_next_form(suffix=f"-{token}")
            elif len(row["outcome"]) > OUTCOME_LIMIT:
                raise model.ActionError(_("the outcome is longer than %(limit)d characters",
                                          limit=OUTCOME_LIMIT))
        except model.ActionError as exc:
            errors.append(_("%(summary)s: %(reason)s", summary=headline(stored.action.summary),
                            reason=exc))
        rows.append(row)
    if errors:
        return render_template("overdue/confirm.html", rows=rows, errors=errors,
                               **_context()), 400
    closed = []
    for row in rows:
        stored, outcome = row["stored"], row["outcome"]
        try:
            if row["choice"] == "next":
                closing = close_and_create_one(stored, row["when"], row["form"], row["kind"],
                                               stored.action.sequence, outcome)
                kind = row["kind"] or stored.action.kind
                if closing.done_before and not as_typed(closing.successor.action, row["form"],
                                                        row["when"], kind):
                    flash(given_back_message(closing, row["form"], row["when"],
                                             kept_next(stored, closing)))
                    continue
            else:
                store().close(stored.path, outcome=outcome)
            closed.append(stored)
        except AlreadyClosed:
            flash(_("%(summary)s was already closed with another outcome, which stays. Your "
                    "note was: “%(outcome)s”.", summary=headline(stored.action.summary),
                    outcome=outcome.strip()))
        except Conflict:
            flash(_("%(summary)s changed at the same moment: check it and close it again.",
                    summary=headline(stored.action.summary)))
    flash(closed_message(closed))
    return redirect(url_for("overdue.show"), code=303)


def given_back_message(closing: Closing, form: dict[str, str],
                       when: model.Moment | None, kept: bool = False) -> dict:
    """An action closed meanwhile with another next action: the one typed for it was not
    created. The message says so and links its page with what was typed, to apply to that
    next action or to create beside it (actions.give_back)."""
    closed = closing.closed
    typed = {f"typed_{name}": form[name] for name in ("summary", "due", "kind")}
    url = f"{page_url(closed.path)}?{urlencode({'back': url_for('overdue.show'), **typed})}"
    names = {"closed": headline(closed.action.summary),
             "next": headline(closing.successor.action.summary),
             "typed": headline(form["summary"]), "when": moment(when)}
    if kept:
        text = _("“%(closed)s” is closed now, and it already had its next action, "
                 "“%(next)s”, kept when its close was undone. Yours was not created: "
                 "“%(typed)s”, %(when)s.", **names)
    else:
        text = _("“%(closed)s” was closed meanwhile, in your calendar app or another tab; its "
                 "next action is “%(next)s”. Yours was not created: “%(typed)s”, %(when)s.",
                 **names)
    return {"text": text, "links": [[url, _("Apply it or create it")]]}


def closed_message(closed: list[Stored]) -> dict:
    """"N actions closed", with a link to each one's page (where Undo is), for the first
    LINKED of them: the message travels in the session cookie, which holds 4 kB."""
    text = ngettext("%(num)d action closed.", "%(num)d actions closed.", len(closed))
    if not closed:
        return {"text": text}
    back = urlencode({"back": url_for("overdue.show")})
    lead = _("To undo one, open it:")
    return {"text": f"{text} {lead}",
            "links": [[f"{page_url(s.path)}?{back}", headline(s.action.summary, LINK_TITLE)]
                      for s in closed[:LINKED]],
            "more": max(0, len(closed) - LINKED)}
