"""The action page: what the link in every calendar item opens.

GET shows the action with two forms, Close and Close and create next. A POST changes the
calendar over CalDAV and redirects (post/redirect/get), so a reload never posts twice.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from server import model
from server.store import Conflict, NotFound, Stored, StoreError
from server.tokens import TokenError
from web.calendar import store, tokens, zone

bp = Blueprint("actions", __name__, url_prefix="/a")

KIND_LABELS = {"call": "Call", "meeting": "Meeting", "email": "E-mail", "task": "Task"}


def _load(token: str) -> Stored:
    """The item a token names; 404 without saying why for anything else."""
    try:
        path = tokens().read(token)
        return store().get(path)
    except (TokenError, NotFound, model.ActionError):
        abort(404)


def _page(stored: Stored) -> str:
    return store().page_url(stored.path) or ""


def _suggestion(action: model.Action) -> dict[str, str]:
    """What the close-and-create form is filled with: same kind, a default delay."""
    today = dt.datetime.now(zone()).date()
    return {
        "summary": f"Follow up: {action.summary}" if action.summary else "",
        "due": model.default_due(action.kind, today).isoformat(),
        "kind": action.kind,
    }


def render_action(stored: Stored, error: str = "", form: dict | None = None, status: int = 200):
    action = stored.action
    chain = {which: store().neighbour(stored, which) for which in ("previous", "next")}
    return render_template(
        "actions/page.html", action=action, stored=stored, error=error,
        form=form or _suggestion(action), kinds=model.KINDS, kind_labels=KIND_LABELS,
        previous=chain["previous"], next=chain["next"], page_of=_page,
        generation=action.sequence), status


@bp.get("/<token>")
def show(token: str):
    return render_action(_load(token))


@bp.post("/<token>/close")
def close(token: str):
    stored = _load(token)
    try:
        store().close(stored.path, outcome=request.form.get("outcome", ""))
    except NotFound:  # deleted in a client since the page was read
        abort(404)
    except Conflict:
        return render_action(stored, "Someone changed this action at the same moment. "
                             "Check it below and close it again.", status=409)
    return redirect(url_for("actions.show", token=token), code=303)


@bp.post("/<token>/close-and-create")
def close_and_create(token: str):
    stored = _load(token)
    form = {name: request.form.get(name, "").strip() for name in ("summary", "due", "kind")}
    try:
        when = model.parse_due(form["due"], zone()) if form["due"] else None
        kind = form["kind"] or None
        if kind is not None and kind not in model.KINDS:
            raise model.ActionError(f"unknown kind {kind!r}: choose one from the list")
        generation = _int(request.form.get("generation"))
        _, successor = store().close_and_create(
            stored.path, form["summary"], when, kind, generation,
            outcome=request.form.get("outcome", ""))
    except NotFound:  # deleted in a client since the page was read
        abort(404)
    except model.ActionError as exc:
        return render_action(stored, f"Not saved: {exc}.", form, status=400)
    except Conflict:
        return render_action(stored, "Someone changed this action at the same moment. "
                             "Check it below and submit again.", form, status=409)
    return redirect(url_for("actions.show", token=tokens().make(successor.path)), code=303)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


@bp.app_errorhandler(StoreError)
def calendar_unavailable(exc: StoreError):
    # Say why in the log (no token in it: paths only, and logs are redacted anyway).
    current_app.logger.warning("calendar unavailable: %s", exc)
    return render_template("error.html", message="The calendar server did not answer as "
                           "expected. Try again in a moment; if it lasts, tell whoever runs "
                           "followup."), 503
