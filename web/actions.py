"""The action page: what the link in every calendar item opens.

GET shows the action with its forms: Close and Close and create next (each with an optional
outcome note), Postpone, and Undo once it is closed. A POST changes the calendar over CalDAV
and redirects (post/redirect/get), so a reload never posts twice. The forms on the list pages
post here too, with `back` saying which page to return to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, lazy_gettext
from flask_babel import gettext as _

from server import model
from server.store import AlreadyClosed, Closing, Conflict, NotFound, Stored, StoreError, shown_etag
from server.tokens import TokenError
from web.auth import visitor
from web.calendar import owns, page_url, store, tokens, zone
from web.i18n import LANGUAGES, moment, safe_target
from web.text import headline

SUMMARY_LIMIT = model.SUMMARY_LIMIT  # what the form allows (maxlength), and the model
OUTCOME_LIMIT = 2000
bp = Blueprint("actions", __name__, url_prefix="/a")

KIND_LABELS = {"call": lazy_gettext("Call"), "meeting": lazy_gettext("Meeting"),
               "email": lazy_gettext("E-mail"), "task": lazy_gettext("Task")}
LINK_LABELS = {"account": lazy_gettext("Account"), "contact": lazy_gettext("Contact"),
               "opportunity": lazy_gettext("Opportunity"), "project": lazy_gettext("Project")}
DELAYS = {1: lazy_gettext("1 day"), 2: lazy_gettext("2 days"), 7: lazy_gettext("1 week"),
          14: lazy_gettext("2 weeks"), 30: lazy_gettext("1 month")}
CONFLICT = lazy_gettext("Someone changed this action at the same moment. "
                        "Check it below and submit again.")


def load(token: str) -> Stored:
    """The item a token names; 404 without saying why for anything else."""
    try:
        path = tokens().read(token)
        return store().get(path)
    except (TokenError, NotFound, model.ActionError):
        abort(404)


MEETING_HOUR = dt.time(9, 0)  # a next meeting proposed after one that had no time


def suggestion(action: model.Action) -> dict[str, str]:
    """What a close-and-create form is filled with: same kind, a default delay."""
    today = dt.datetime.now(zone()).date()
    summary = follow_up(action.summary) if action.summary else ""
    return {
        "summary": model.fit_summary(summary),  # a long title must not make the form refuse itself
        "due": proposed_due(action, today),
        "kind": action.kind,
    }


def follow_up(summary: str) -> str:
    """The proposed title of the next action: "Follow up: <summary>", unless the summary
    already starts with that prefix, in any language of the pages (the next action of a
    next action would read "Follow up: Follow up: ...")."""
    if any(_plain(summary).startswith(prefix) for prefix in _follow_up_prefixes()):
        return summary
    return _("Follow up: %(summary)s", summary=summary)


def _follow_up_prefixes() -> list[str]:
    prefixes = []
    for code in LANGUAGES:
        with force_locale(code):
            prefixes.append(_plain(_("Follow up: %(summary)s", summary="")))
    return prefixes


def _plain(text: str) -> str:
    """For comparing titles: any run of spaces (no-break ones too) is one space, any case."""
    return " ".join(text.split()).casefold()


def proposed_due(action: model.Action, today: dt.date) -> str:
    """The day the next action is proposed for, as the form writes it. A meeting gets a time
    too, or it becomes an all-day event: the time this one started at (as the clock shows
    it here), else MEETING_HOUR; a time the clocks skip that day gives MEETING_HOUR."""
    day = model.default_due(action.kind, today)
    if action.kind != "meeting":
        return day.isoformat()
    at = MEETING_HOUR
    if isinstance(action.when, dt.datetime):
        at = model.in_zone(action.when, zone()).time().replace(second=0, microsecond=0)
    if not model.exists(dt.datetime.combine(day, at, zone())):
        at = MEETING_HOUR
    return f"{day.isoformat()}T{at:%H:%M}"


def render_action(stored: Stored, error: str = "", form: dict | None = None,
                  status: int = 200, typed_next: bool = False,
                  planned: str | None = None) -> ResponseReturnValue:
    """The action page. `typed_next`: `form` is a next action typed for a close that was
    done meanwhile, given back to apply to the next action that exists or to create beside
    it (shown only while that next action exists). `planned`: the date typed to plan an
    undated action, given back (else the kind's default is proposed)."""
    action = stored.action
    # Only consistent neighbours: a NEXT or PREVIOUS copied with the item names an action
    # of another chain, which must neither be offered here nor block Close and create next.
    chain = {"previous": store().predecessor(stored), "next": store().successor(stored)}
    user = visitor()
    # The page's own address, also when a POST shows it (an error, a close done meanwhile):
    # the language links and the login come back here, not to a URL that only takes POSTs.
    here = url_for("actions.show", token=request.view_args["token"], back=shown_back() or None)
    return render_template(
        "actions/page.html", action=action, stored=stored, error=error,
        form=form or suggestion(action), kinds=model.KINDS, kind_labels=KIND_LABELS,
        link_labels=LINK_LABELS, delays=DELAYS, previous=chain["previous"],
        next=chain["next"], page_of=lambda s: page_url(s.path), generation=action.sequence,
        follow_chain=may_follow_chain(user, stored), signed_in=user is not None,
        back=shown_back(), typed_next=typed_next, here=here, lang_next=here,
        planned=planned or proposed_due(action, dt.datetime.now(zone()).date())), status


def shown_back() -> str:
    """The page's "← Back" target: from its address (?back=, set by the week and "Plan next
    step"), from a list's form that failed here, or kept by one of the page's own forms."""
    return safe_target(request.values.get("back") or request.form.get("page_back"), "")


def may_follow_chain(user: str | None, stored: Stored) -> bool:
    """Whether the page links the previous and next actions' pages: for the calendar's owner
    only. A page link is a capability for its one item, and it travels (forwarded, or in a
    meeting invitation's notes to every attendee): linking the chain from it would open
    every action of the chain to whoever holds one link."""
    return user is not None and owns(user, stored.path)


def _done(token: str, shown: str | None = None) -> ResponseReturnValue:
    """Where a successful POST goes. A list's form (`back`) returns to its list. The action
    page's own forms show the result on an action page (this one, or the token `shown`),
    with the page's Back link (`page_back`) kept: Postpone or Undo must not strand the user
    on a page with no way back to the week they came from."""
    listing = safe_target(request.form.get("back"), "")
    if listing:
        return redirect(listing, code=303)
    kept = safe_target(request.form.get("page_back"), "") or None
    return redirect(url_for("actions.show", token=shown or token, back=kept), code=303)


@bp.get("/<token>")
def show(token: str) -> ResponseReturnValue:
    typed = {name: request.args.get(f"typed_{name}", "") for name in ("summary", "due", "kind")}
    if typed["summary"]:  # the link of a bulk close's message: the next action it gives back
        return render_action(load(token), form=typed, typed_next=True)
    return render_action(load(token))


@bp.post("/<token>/close")
def close(token: str) -> ResponseReturnValue:
    stored = load(token)
    outcome = request.form.get("outcome", "").strip()
    kept = {**suggestion(stored.action), "outcome": outcome}  # what was typed, on an error
    if len(outcome) > OUTCOME_LIMIT:
        return render_action(stored, _("Not saved: %(reason)s.", reason=_(
            "the outcome is longer than %(limit)d characters", limit=OUTCOME_LIMIT)),
            kept, status=400)
    try:
        store().close(stored.path, outcome=outcome)
    except NotFound:  # deleted in a client since the page was read
        abort(404)
    except AlreadyClosed:
        # Another tab closed it first with its own note: that one stays (the page shows it),
        # and the note typed here is given back in the message, not silently dropped.
        return render_action(load(token), _(
            "Not saved: this action was already closed, with the outcome shown above. Your "
            "note was: “%(outcome)s”. To change the outcome, reopen the action and close it "
            "again.", outcome=outcome), kept, status=409)
    except Conflict:
        return render_action(stored, str(CONFLICT), kept, status=409)
    message = {"text": _("Closed: %(summary)s", summary=headline(stored.action.summary))}
    if list_back():  # the row is gone from the list: one tap back to it, to undo a mis-tap
        message["links"] = [undo_link(stored.path, _("Open it to undo"))]
    flash(message)
    return _done(token)


def list_back() -> str:
    """The list that a list's form (`back`) returns to; "" for the action page's forms."""
    return safe_target(request.form.get("back"), "")


def undo_link(path: str, label: str) -> list[str]:
    """A message's link to the page of an action just closed from a list, where Undo is;
    that page's Back link returns to the list."""
    back = list_back()
    return [page_url(path) + (f"?{urlencode({'back': back})}" if back else ""), label]


def read_next_form(suffix: str = "") -> tuple[dict[str, str], model.Moment | None, str | None]:
    """The next action as typed in a close-and-create form; ActionError says what is wrong."""
    form = {name: request.form.get(name + suffix, "").strip()
            for name in ("summary", "due", "kind", "outcome")}  # all given back on an error
    if not form["due"]:
        # A next step with no date never shows as due or overdue: it would be forgotten,
        # which is what this button is there to prevent.
        raise model.ActionError(_("the next action needs a date: write YYYY-MM-DD, or "
                                  "YYYY-MM-DDTHH:MM for a time"))
    try:
        when = model.parse_due(form["due"], zone())
    except model.DateError as exc:
        raise model.ActionError(date_problem(exc)) from None
    kind = form["kind"] or None
    if kind is not None and kind not in model.KINDS:
        raise model.ActionError(_("unknown kind %(kind)s: choose one from the list", kind=kind))
    if not form["summary"]:
        raise model.ActionError(_("the next action needs a summary: say what is to be done"))
    if len(form["outcome"]) > OUTCOME_LIMIT:
        raise model.ActionError(_("the outcome is longer than %(limit)d characters",
                                  limit=OUTCOME_LIMIT))
    if len(form["summary"]) > SUMMARY_LIMIT:
        raise model.ActionError(_("the summary is longer than %(limit)d characters: keep the "
                                  "details for the description", limit=SUMMARY_LIMIT))
    return form, when, kind


def date_problem(exc: model.DateError) -> str:
    """model.parse_due's refusal, in the reader's language."""
    if exc.problem == "skipped":
        return _("%(value)s does not exist in %(zone)s: the clocks skip that hour on that day "
                 "(daylight saving time). Choose another time", value=exc.text, zone=exc.zone)
    return _("%(value)s is not a date followup accepts: write YYYY-MM-DD, or YYYY-MM-DDTHH:MM "
             "for a time, with a year from %(first)d to %(last)d", value=exc.text,
             first=model.FIRST_YEAR, last=model.LAST_YEAR)


def close_and_create_one(stored: Stored, when: model.Moment | None, form: dict[str, str],
                         kind: str | None, generation: int | None, outcome: str) -> Closing:
    """Close `stored` and create the next action, unless someone did it first (the next
    action is then the one that exists: `done_before`). Flashes a typed outcome that could
    not be saved (the close that came first had another one)."""
    closing = store().close_and_create(stored.path, form["summary"], when, kind, generation,
                                       outcome=outcome)
    typed = model.clean_text(outcome).strip()
    if typed and closing.closed.action.outcome != typed:
        flash(_("Your outcome was not saved: the action was already closed with another one. "
                "Your note was: “%(outcome)s”.", outcome=typed))
    return closing


def as_typed(action: model.Action, form: dict[str, str], when: model.Moment | None,
             kind: str) -> bool:
    """Whether `action` is the next action the form describes (a second click, or another
    tab that typed the same): then nothing typed is lost."""
    return (action.summary == model.clean_text(form["summary"]).strip()
            and action.kind == kind and action.when == when)


@bp.post("/<token>/close-and-create")
def close_and_create(token: str) -> ResponseReturnValue:
    stored = load(token)
    form = {name: request.form.get(name, "").strip()
            for name in ("summary", "due", "kind", "outcome")}
    try:
        form, when, kind = read_next_form()
        closing = close_and_create_one(stored, when, form, kind,
                                       _int(request.form.get("generation")),
                                       request.form.get("outcome", ""))
    except NotFound:  # deleted in a client since the page was read
        abort(404)
    except model.ActionError as exc:
        return render_action(stored, _("Not saved: %(reason)s.", reason=exc), form, status=400)
    except Conflict:
        return render_action(stored, str(CONFLICT), form, status=409)
    successor = closing.successor
    names = {"closed": headline(stored.action.summary),
             "next": headline(successor.action.summary)}
    if not closing.done_before:
        text = _("Closed: %(closed)s. Next: %(next)s", **names)
    elif as_typed(successor.action, form, when, kind or stored.action.kind):
        text = _("Already done (in another tab, or by an earlier click): “%(closed)s” is "
                 "closed, and its next action is “%(next)s”.", **names)
    else:
        return give_back(token, closing, form, kept_next(stored, closing))
    flash({"text": text, "links": [[page_url(successor.path), _("Open the next action")]]})
    return _done(token, shown=tokens().make(successor.path))


def kept_next(stored: Stored, closing: Closing) -> bool:
    """Whether the next action that stopped the typed one was there, open action pointing at
    it, when the form was sent: kept by an Undo, not made meanwhile by someone else."""
    return not stored.action.closed and stored.action.next == closing.successor.action.uid


def give_back(token: str, closing: Closing, form: dict[str, str],
              kept: bool = False) -> ResponseReturnValue:
    """The action was closed meanwhile with another next action (a tick in a calendar app
    plans one), or it had one already (`kept` by an Undo): say which, and give back the next
    action typed, to apply or to add. The typed outcome went with the close if it had none
    (close_and_create adds it)."""
    typed = model.clean_text(form.get("outcome", "")).strip()
    if typed and closing.closed.action.outcome == typed:
        flash(_("Your outcome was saved with the close."))
    names = {"closed": headline(closing.closed.action.summary),
             "next": headline(closing.successor.action.summary)}
    if kept:
        text = _("Not created: “%(closed)s” is closed now, and it already had its next action, "
                 "“%(next)s”, kept when its close was undone. The next action you typed is "
                 "below: apply it to that one, or create it as an additional action.", **names)
    else:
        text = _("Not created: “%(closed)s” was closed meanwhile, in your calendar app or "
                 "another tab; its next action is “%(next)s”. The next action you typed is "
                 "below: apply it to that one, or create it as an additional action.", **names)
    return render_action(load(token), text, form, status=409, typed_next=True)


@bp.post("/<token>/typed-next")
def typed_next(token: str) -> ResponseReturnValue:
    """A next action given back (see give_back): applied to the next action that exists
    ("apply", a conditional update of the version the page showed), or created beside it
    with the same links ("add"; not a second successor)."""
    stored = load(token)
    try:
        form, when, kind = read_next_form()
    except model.ActionError as exc:
        return render_action(stored, _("Not saved: %(reason)s.", reason=exc),
                             _typed_fields(), status=400, typed_next=True)
    if request.form.get("how") == "add":
        generation = _int(request.form.get("generation"))
        extra = store().create_beside(stored, form["summary"], when, kind,
                                      stored.action.sequence if generation is None else generation)
        flash({"text": _("Created: %(summary)s, with the same links.",
                         summary=headline(extra.action.summary)),
               "links": [[page_url(stored.path), _("Open the closed action")]]})
        return _done(token, shown=tokens().make(extra.path))
    successor = store().successor(stored)
    problem = _applied(successor, form, when, kind) if successor is not None else None
    if problem is None:  # deleted, or undone, since the page was shown: the page then
        # offers Close and create next (or "Create the next action") with what was typed
        return render_action(load(token), _("Not changed: this action has no next action any "
                                            "more. Create yours below."), form, status=409)
    if problem:
        return render_action(load(token), problem, form, status=409, typed_next=True)
    flash({"text": _("Next action changed: %(next)s", next=headline(form["summary"])),
           "links": [[page_url(successor.path), _("Open the next action")]]})
    return _done(token, shown=tokens().make(successor.path))


def _applied(successor: Stored, form: dict[str, str], when: model.Moment | None,
             kind: str | None) -> str | None:
    """Apply the typed next action to `successor` as the page showed it: "" when done, None
    when it is gone, else why not, for the page."""
    # No ETag, or not one the page can have shown: update() takes it as changed since.
    shown = dataclasses.replace(successor, etag=shown_etag(request.form.get("next_etag")))
    name = headline(successor.action.summary)
    try:
        store().revise(shown, form["summary"], when, kind)
    except NotFound:
        return None
    except Conflict:
        return _("Not changed: the next action “%(next)s” was changed since this page was "
                 "shown (in your calendar app, or another tab). Check it, then apply yours "
                 "again.", next=name)
    except model.ActionClosed:
        return _("Not changed: the next action “%(next)s” is closed already. Create yours as "
                 "an additional action.", next=name)
    except model.RepeatsError:
        return _("Not changed: the next action “%(next)s” repeats; change it in your calendar "
                 "app, or create yours as an additional action.", next=name)
    except model.ActionError as exc:
        return _("Not saved: %(reason)s.", reason=exc)
    return ""


def _typed_fields() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in ("summary", "due", "kind")}


@bp.post("/<token>/postpone")
def postpone(token: str) -> ResponseReturnValue:
    stored = load(token)
    days = _int(request.form.get("days"))
    if days not in DELAYS:
        return render_action(stored, _("Choose a delay from the list."), status=400)
    try:
        store().modify(stored.path, lambda cal: model.postpone(
            cal, dt.timedelta(days=days), today=dt.datetime.now(zone()).date()))
    except model.ActionClosed:  # closed since the form was shown (another tab, an app)
        return render_action(load(token), _("Not postponed: this action is closed. Reopen "
                                            "it first if it is to be done later."),
                             status=409)
    except model.RepeatsError:
        return render_action(stored, _("This action repeats: move it in your calendar app, "
                                       "where you can choose this occurrence or the series."),
                             status=400)
    except model.OutOfCalendar:
        return render_action(stored, _("This action is dated at the very end of the calendar, "
                                       "so it cannot be postponed. Give it a real date in your "
                                       "calendar app."), status=400)
    except Conflict:
        return render_action(stored, str(CONFLICT), status=409)
    moved = store().get(stored.path).action.when
    flash(_("Postponed to %(when)s.", when=moment(moved)) if moved is not None
          else _("Postponed by %(delay)s.", delay=DELAYS[days]))
    return _done(token)


@bp.post("/<token>/plan-date")
def plan_date(token: str) -> ResponseReturnValue:
    """Give an action without a date its date (the overdue page's "No date yet" section, and
    the action's page, where Postpone would have nothing to move)."""
    stored = load(token)
    typed = request.form.get("due", "").strip()
    try:
        when = model.parse_due(typed, zone())
    except model.DateError as exc:
        return render_action(stored, _("Not saved: %(reason)s.", reason=date_problem(exc)),
                             status=400, planned=typed)
    try:
        store().modify(stored.path, lambda cal: model.revise(cal, when=when))
    except model.ActionClosed:  # closed since the form was shown (another tab, an app)
        return render_action(load(token), _("Not planned: this action is closed."), status=409)
    except model.RepeatsError:
        return render_action(stored, _("This action repeats: move it in your calendar app, "
                                       "where you can choose this occurrence or the series."),
                             status=400)
    except Conflict:
        return render_action(stored, str(CONFLICT), status=409, planned=typed)
    flash(_("Planned for %(when)s: %(summary)s", when=moment(when),
            summary=headline(stored.action.summary)))
    return _done(token)


@bp.post("/<token>/reopen")
def reopen(token: str) -> ResponseReturnValue:
    """Undo a close; the successor it made is deleted only if the user asks, it is open, and
    it is still the version the page showed."""
    stored = load(token)
    if not stored.action.closed:  # reopened meanwhile (another tab, an app, a second click)
        return render_action(stored, _("Nothing to undo: this action is already open."),
                             status=409)
    successor = store().successor(stored)  # it points back: made as this one's next
    remove = request.form.get("successor") == "delete" and successor is not None
    if remove and successor.action.closed:
        return render_action(stored, _("The next action is already closed, so it stays. "
                                       "Choose to keep it."), status=400)
    deleted = remove and _delete_as_shown(successor, shown_etag(request.form.get("successor_etag")))
    try:
        if deleted:
            store().modify(stored.path, lambda cal: model.unlink_next(model.reopen(cal)))
        else:
            store().modify(stored.path, model.reopen)
    except Conflict:
        return render_action(stored, str(CONFLICT), status=409)
    flash(_("Reopened: %(summary)s", summary=headline(stored.action.summary)))
    if remove and not deleted:
        flash(_("The next action was changed since this page was shown; it was kept: "
                "%(summary)s.", summary=headline(successor.action.summary)))
    return _done(token)


def _delete_as_shown(successor: Stored, etag: str | None) -> bool:
    """Delete the successor if it is still the version the form showed (If-Match on its
    ETag, checked by shown_etag, then). An edit made since in a calendar app (notes, a new
    date) must not be lost by a click on a page that never showed it."""
    if not etag:
        return False  # a form without a valid ETag cannot say what was shown: keep it
    try:
        store().delete(dataclasses.replace(successor, etag=etag))
    except Conflict:
        return False
    return True


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


@bp.app_errorhandler(StoreError)
def calendar_unavailable(exc: StoreError) -> ResponseReturnValue:
    # Say why in the log (no token in it: paths only, and logs are redacted anyway).
    current_app.logger.warning("calendar unavailable: %s", exc)
    return render_template("error.html", message=_(
        "The calendar server did not answer as expected. Try again in a moment; if it "
        "lasts, tell whoever runs followup.")), 503
