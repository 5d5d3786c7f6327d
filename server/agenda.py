"""Questions a sales person asks of their actions: what is overdue, what is on this week,
what happened on this opportunity, which opportunities have no next step.

Pure functions over actions already read (no CalDAV, no web), so pages, the command line and
tests share one answer. An `Item` pairs an action with where it is stored.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from server import model, recurrence


@dataclass(frozen=True)
class Item:
    """An action and its path on the CalDAV server."""

    path: str
    action: model.Action


@dataclass(frozen=True)
class Record:
    """A CRM record (account, contact, opportunity, project) and every action linked to it."""

    link: model.Link
    items: list[Item]

    @property
    def open(self) -> list[Item]:
        return [item for item in self.items if not item.action.closed]


FIRST_UTC = dt.datetime.min.replace(tzinfo=dt.UTC)
LAST_UTC = dt.datetime.max.replace(tzinfo=dt.UTC)


def as_utc(when: model.Moment) -> dt.datetime:
    """A moment as an aware UTC time; a day counts as its midnight, a floating time as UTC.

    A time whose UTC falls outside Python's calendar (9999-12-31T23:00 in Los Angeles,
    0001-01-01T00:30 in Tokyo) counts as the calendar's first or last instant: it sorts
    where it belongs instead of stopping the list."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.UTC)
        try:
            return when.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            return LAST_UTC if when.year > dt.MAXYEAR // 2 else FIRST_UTC
    return dt.datetime.combine(when, dt.time(), dt.UTC)


def sort_key(when: model.Moment | None) -> tuple[int, dt.datetime]:
    """Soonest first, undated last."""
    if when is None:
        return (1, LAST_UTC)
    return (0, as_utc(when))


def is_overdue(action: model.Action, now: dt.datetime, tz: dt.tzinfo = dt.UTC) -> bool:
    """Open and past its date: a day once it is over (in `tz`), a time once it has passed.

    A repeating action (a weekly meeting made in a calendar app) is late only once its
    series has ended: a meeting that goes on every week is not a step someone forgot."""
    if action.closed or action.when is None or not _past(action.when, now, tz):
        return False
    return not recurrence.repeats_after(action, now)


def _past(when: model.Moment, now: dt.datetime, tz: dt.tzinfo) -> bool:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:  # floating: the wall clock where the user is
            return when < now.astimezone(tz).replace(tzinfo=None)
        return when < now  # aware times compare without conversion, even at year 9999
    return when < now.astimezone(tz).date()


def overdue(items: Iterable[Item], now: dt.datetime, tz: dt.tzinfo = dt.UTC) -> list[Item]:
    """Open actions past their date, oldest first."""
    found = [item for item in items if is_overdue(item.action, now, tz)]
    return sorted(found, key=lambda item: sort_key(item.action.when))


def undated(items: Iterable[Item]) -> list[Item]:
    """Open actions with no date at all (a task made in a client without a due day): never
    overdue and on no day of a week, so the overdue page lists them on their own, by title."""
    found = [item for item in items if not item.action.closed and item.action.when is None]
    return sorted(found, key=lambda item: item.action.summary.casefold())


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def week(items: Iterable[Item], any_day: dt.date,
         tz: dt.tzinfo = dt.UTC) -> dict[dt.date, list[Item]]:
    """Monday to Sunday of the week holding `any_day`: each day's actions, closed ones too.

    Events are placed at their start, tasks on their due day, a repeating action at each
    time it happens; within a day, whole-day items come first, then by time.
    """
    monday = monday_of(any_day)
    sunday = monday + dt.timedelta(days=6)
    days: dict[dt.date, list[Item]] = {monday + dt.timedelta(days=n): [] for n in range(7)}
    for item in items:
        if item.action.series is None:
            at = [item] if item.action.when is not None else []
        else:  # a repeating meeting: each time it happens this week
            at = [Item(item.path, one)
                  for one in recurrence.occurrences(item.action, monday, sunday, tz)]
        for one in at:
            day = model.local_day(one.action.when, tz)
            if day in days:
                days[day].append(one)
    for day_items in days.values():
        day_items.sort(key=lambda item: _in_day(item.action.when, tz))
    return days


def _in_day(when: model.Moment | None, tz: dt.tzinfo) -> tuple[int, dt.time]:
    if isinstance(when, dt.datetime):
        return (1, model.in_zone(when, tz).time())
    return (0, dt.time())


def records(items: Iterable[Item], kind: str) -> list[Record]:
    """Every record of `kind` that some action links to, by label."""
    found: dict[str, Record] = {}
    for item in items:
        link = item.action.links.get(kind)
        if link is None:
            continue
        # A name written in NFC by one and NFD by another is one record (model.link_key).
        found.setdefault(model.link_key(link.uri), Record(link, [])).items.append(item)
    for record in found.values():
        record.items[:] = timeline(record.items)
    return sorted(found.values(), key=lambda r: r.link.label.casefold())


def record(items: Iterable[Item], kind: str, uri: str) -> Record | None:
    """The record of that kind whose URI is `uri` (NFC and NFD spellings of a name alike)."""
    wanted = model.link_key(uri)
    for found in records(items, kind):
        if model.link_key(found.link.uri) == wanted:
            return found
    return None


def timeline(items: Iterable[Item]) -> list[Item]:
    """The actions as a record's page shows them: one list by date that keeps each chain's
    order (docs: README, the pages table).

    A record often has several chains (an action made by hand next to a chain of close and
    create next). Shown one chain after the other, a later chain's first step would come
    after an earlier chain's last one, weeks later, and the list would not read as a
    timeline. So the chains are merged by date: each next row is the earliest of the
    chains' next steps. A step still never shows before the one it follows, even when it
    is dated earlier (its predecessor was postponed past it)."""
    chains = _chains(list(items))
    waiting = [(sort_key(chain[0].action.when), number, 0) for number, chain in enumerate(chains)]
    heapq.heapify(waiting)
    ordered: list[Item] = []
    while waiting:
        _, number, position = heapq.heappop(waiting)
        chain = chains[number]
        ordered.append(chain[position])
        if position + 1 < len(chain):
            following = chain[position + 1]
            heapq.heappush(waiting, (sort_key(following.action.when), number, position + 1))
    return ordered


def _chains(items: list[Item]) -> list[list[Item]]:
    """The items cut into chains (previous → next), chains by their first date.

    An action whose previous one is not among `items` starts a chain; actions left over (a
    loop a client made) are a chain each."""
    by_uid = {item.action.uid: item for item in items}
    heads = [item for item in items
             if not item.action.previous or item.action.previous not in by_uid]
    heads.sort(key=lambda item: sort_key(item.action.when))
    chains: list[list[Item]] = []
    seen: set[str] = set()
    for head in heads:
        chain: list[Item] = []
        item: Item | None = head
        while item is not None and item.action.uid not in seen:
            seen.add(item.action.uid)
            chain.append(item)
            item = by_uid.get(item.action.next or "")
            if item is not None and item.action.previous not in (None, chain[-1].action.uid):
                item = None  # it claims another predecessor: its own chain places it
        if chain:  # empty for a head an earlier chain reached (its NEXT named it)
            chains.append(chain)
    rest = [item for item in items if item.action.uid not in seen]
    rest.sort(key=lambda item: sort_key(item.action.when))
    return chains + [[item] for item in rest]


def next_step(items: Iterable[Item]) -> Item | None:
    """The open action that comes first: what is to be done next on a record."""
    open_items = [item for item in items if not item.action.closed]
    return min(open_items, key=lambda item: sort_key(item.action.when), default=None)


def without_next_step(items: Iterable[Item], kind: str = "opportunity") -> list[Record]:
    """Records whose every action is closed: nobody has planned what comes next."""
    return [found for found in records(items, kind) if not found.open]


def tail(found: Record) -> Item | None:
    """The last action of the record's latest chain: the one a next step should follow."""
    if not found.items:
        return None
    latest = max(found.items, key=lambda item: sort_key(item.action.when))
    by_uid = {item.action.uid: item for item in found.items}
    item, seen = latest, set()
    while item.action.uid not in seen:
        seen.add(item.action.uid)
        following = by_uid.get(item.action.next or "")
        if following is None or following.action.previous != item.action.uid:
            break  # the end, or a NEXT copied from another action (it does not point back)
        item = following
    return item
