"""What a client's update may change, and what comes back from the stored version.

Calendar clients rewrite what they upload: Thunderbird keeps one property per name, DAVx5
turns RELATED-TO types it does not know into PARENT, Apple and some Android apps drop unknown
properties. `update()` takes the stored version and the client's and returns the version to
store (docs/FORMAT.md, "What clients may do"):

- followup's own properties (links, chain, page, kind, outcome, saved values) come back when a
  client dropped them, and their parameters come back when a client dropped those;
- a RELATED-TO whose RELTYPE a client rewrote gets its stored RELTYPE back, and a PARENT that
  points into the action's own chain is set aside (it would make a parent loop);
- a completion in any client's dialect is a close ("ticked" when a client did it), an
  un-tick is a reopen (`completion()`);
- everything else, and every visible field the user changed, is the client's.

Pure: no Radicale, no I/O. The page link itself is put back by `model.stamp` afterwards.
"""

from __future__ import annotations

import copy
import datetime as dt

import icalendar

from server import model

# Ours: restored when a client drops them. X-FOLLOWUP-CLOSED is not here: completion decides.
OURS = (model.PROP_KIND, *model.LINK_PROPS.values(), model.PROP_PREVIOUS, model.PROP_NEXT,
        model.PROP_PAGE, model.PROP_OUTCOME)
# Marks a user may type at the start of an event's SUMMARY to say it is done.
EVENT_DONE_MARKS = ("✓", "✔")

# What an upload did: closed by followup itself (its close writes X-FOLLOWUP-CLOSED), ticked
# in a calendar client (which knows nothing of X-FOLLOWUP-CLOSED), or reopened.
CLOSED, TICKED, REOPENED = "closed", "ticked", "reopened"


def _all(comp: icalendar.Component, name: str) -> list:
    value = comp.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ours(comp: icalendar.Component) -> list[str]:
    saved = [name for name in comp if name.startswith(model.SAVED_PREFIX)]
    return [*OURS, *saved]


def restore_ours(old: icalendar.Component, new: icalendar.Component) -> None:
    """Put back followup's properties (and their parameters) that the client dropped."""
    for name in _ours(old):
        if name not in old:
            continue
        if name not in new:
            for value in _all(old, name):
                new.add(name, value, encode=False)
            continue
        olds, news = _all(old, name), _all(new, name)
        if name.startswith(model.SAVED_PREFIX):
            _restore_collapsed(new, name, olds, news)
            continue
        if len(olds) == len(news) == 1 and str(olds[0]) == str(news[0]):
            params = dict(olds[0].params)
            params.update(news[0].params)
            if params != dict(news[0].params):
                value = copy.deepcopy(news[0])
                value.params.update(params)
                new[name] = value


def _restore_collapsed(new: icalendar.Component, name: str, olds: list, news: list) -> None:
    """A saved value is the client's own, set aside, and no client edits it: one that a
    client's collapse to one property per name (Thunderbird) dropped comes back."""
    sent = {(v.to_ical(), tuple(sorted(v.params.items()))) for v in news}
    for value in olds:
        if (value.to_ical(), tuple(sorted(value.params.items()))) not in sent:
            new.add(name, value, encode=False)


def restore_related(old: icalendar.Component, new: icalendar.Component) -> None:
    """Undo RELTYPE rewrites and keep our chain out of RELATED-TO;RELTYPE=PARENT."""
    if "RELATED-TO" not in new:
        return
    stored = {str(r): r.params.get("RELTYPE", "PARENT").upper() for r in _all(old, "RELATED-TO")}
    chain = {str(v) for c in (old, new) for n in (model.PROP_PREVIOUS, model.PROP_NEXT)
             for v in _all(c, n)}
    kept = []
    for related in _all(new, "RELATED-TO"):
        value = str(related)
        reltype = related.params.get("RELTYPE", "PARENT").upper()
        if reltype == "PARENT" and value in stored and stored[value] != "PARENT":
            related = copy.deepcopy(related)
            related.params["RELTYPE"] = stored[value]  # a sync adapter rewrote it
        elif reltype == "PARENT" and value in chain and stored.get(value) != "PARENT":
            # An action is never the parent of its own predecessor or successor: a loop.
            new.add(model.SAVED_PREFIX + "RELATED-TO", related, encode=False)
            continue
        kept.append(related)
    new.pop("RELATED-TO")
    for related in kept:
        new.add("RELATED-TO", related, encode=False)


def move_page_line_last(comp: icalendar.Component, page_url: str) -> None:
    """A client that appended text after our link line: drop the line, stamp re-adds it last."""
    description = comp.get("DESCRIPTION")
    if description is None or isinstance(description, list) or not page_url:
        return
    line = model.page_line(page_url)
    lines = str(description).split("\n")
    if line in lines[:-1]:
        rest = [x for x in lines if x != line]
        while rest and not rest[-1].strip():
            rest.pop()
        comp["DESCRIPTION"] = icalendar.vText("\n".join(rest))


# -- completion --------------------------------------------------------------------------------


def _percent(comp: icalendar.Component) -> int | None:
    return model.percent_complete(comp)  # None for a value that is no integer


def _task_done(old_closed: bool, comp: icalendar.Component) -> bool:
    """Is the client's version of a task done?

    From open, any one mark closes it (clients disagree on which they write). From closed,
    the most explicit mark decides, so that a client dropping PERCENT-COMPLETE alone does not
    reopen it, while an un-tick (STATUS back to NEEDS-ACTION, COMPLETED removed) does.
    """
    status = model._text(comp, "STATUS").upper()
    percent = _percent(comp)
    if not old_closed:
        return (status == "COMPLETED" or "COMPLETED" in comp
                or (percent is not None and percent >= 100) or model.PROP_CLOSED in comp)
    if status:
        return status == "COMPLETED"
    if "COMPLETED" in comp:
        return True
    return percent is not None and percent >= 100


def _event_done(comp: icalendar.Component) -> bool:
    return model._text(comp, "SUMMARY").lstrip().startswith(EVENT_DONE_MARKS)


def _normalise_event_mark(comp: icalendar.Component) -> None:
    summary = model._text(comp, "SUMMARY")
    rest = summary.lstrip()
    for mark in EVENT_DONE_MARKS:
        if rest.startswith(mark):
            wanted = model.CLOSED_MARK + rest[len(mark):].lstrip()
            if wanted != summary:
                comp["SUMMARY"] = icalendar.vText(wanted)
            return


def completion(old: icalendar.Calendar | None, new: icalendar.Calendar,
               now: dt.datetime | None = None) -> tuple[icalendar.Calendar, str]:
    """Close or reopen the client's version as the client meant; the change: CLOSED,
    TICKED, REOPENED or ''."""
    comp = model._main(new)
    old_comp = model.main_component(old) if old is not None else None
    old_closed = old_comp is not None and model.is_closed(old_comp)
    if comp.name == "VEVENT":
        done = _event_done(comp) or (old_comp is None and model.PROP_CLOSED in comp)
        if done:
            _normalise_event_mark(comp)
    else:
        done = _task_done(old_closed, comp)
    if done:
        change = ""
        if old_comp is not None and not old_closed:
            change = CLOSED if model.PROP_CLOSED in comp else TICKED
        if old_comp is not None and model.PROP_CLOSED in old_comp and model.PROP_CLOSED not in comp:
            comp.add(model.PROP_CLOSED, old_comp[model.PROP_CLOSED], encode=False)
        return model.close(new, now), change
    if old_closed or model.is_closed(comp):
        return model.reopen(_mark_closed(new), now), REOPENED if old_closed else ""
    return new, ""


def _mark_closed(cal: icalendar.Calendar) -> icalendar.Calendar:
    """reopen() only acts on a closed action: make sure it sees one."""
    comp = model._main(cal)
    if not model.is_closed(comp):
        comp.add(model.PROP_CLOSED, model.utcnow(), parameters={"VALUE": "DATE-TIME"})
    return cal


def update(old: icalendar.Calendar | None, new: icalendar.Calendar, page_url: str = "",
           now: dt.datetime | None = None,
           restore: bool = True) -> tuple[icalendar.Calendar, str]:
    """The version to store when a client uploads `new` over `old` (None: a new item).

    `new` is the caller's fresh parse and is changed in place (a copy costs a millisecond
    on every upload); `old` is not changed. `restore=False` for followup's own writes (the
    companion speaks the format: when it drops a property, it means it, e.g. an undo).
    """
    comp = model._main(new)
    old_comp = model.main_component(old) if old is not None else None
    if old_comp is not None and old_comp.name == comp.name:
        if restore:
            restore_ours(old_comp, comp)
            restore_related(old_comp, comp)
    else:
        old = None
    move_page_line_last(comp, page_url)
    return completion(old, new, now)
