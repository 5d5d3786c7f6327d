"""`followup repair`: finish what a crash or a lost race left half done in a calendar.

Close-and-create writes the successor first and the predecessor second (docs/FORMAT.md,
"Order of writes"), so whatever stops it in the middle leaves one of these shapes, which this
sweep finds from the chain properties alone:

- a successor whose predecessor has no ``X-FOLLOWUP-NEXT`` (open, or closed by someone else):
  finish the job, i.e. close the predecessor and point it at the successor;
- several successors of one predecessor (two attempts with different generations): keep the
  one the predecessor points at (or the oldest) and delete the others if nobody touched them
  since they were made; report them otherwise, a person decides;
- a predecessor whose ``X-FOLLOWUP-NEXT`` names nothing (the successor was deleted in a
  client): reported, since only a person knows what the next step should be;
- an ``X-FOLLOWUP-NEXT`` that names an item following another action (a calendar app's
  "duplicate" copied it): stale, so reported and otherwise treated as no NEXT at all.

Every write is conditional, so a sweep that runs while someone works is safe: a 412 re-reads.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from server import model
from server.store import Conflict, Store, Stored, StoreError

# How far past the predecessor's SEQUENCE a successor's generation may be and still be ours.
GENERATION_SLACK = 3


@dataclass(frozen=True)
class Finding:
    kind: str  # "unfinished-close", "duplicate-successor", "dangling-next", "stale-next"
    path: str
    detail: str
    fixed: bool
    fixable: bool = False  # what a sweep with fix=True would mend

    def line(self) -> str:
        state = ("fixed" if self.fixed else "would be fixed" if self.fixable
                 else f"needs a person: {ADVICE[self.kind]}")
        return f"{self.kind}: {self.path}: {self.detail} ({state})"


# What a person does about what repair leaves alone, in the apps they have.
ADVICE = {
    "unfinished-close": "if that item really is this action's next step, close this action "
                        "on its page; otherwise nothing to do",
    "duplicate-successor": "open both next actions, keep the right one and delete the other "
                           "in your calendar app",
    "dangling-next": "its next action was deleted; if one is still needed, open this "
                     "action's page, Undo, then Close and create next",
    "stale-next": "nothing to do; its page offers Close and create next as for any action",
}


def sweep(store: Store, calendar_path: str, fix: bool = True,
          now: dt.datetime | None = None) -> list[Finding]:
    """Find (and with `fix`, mend) half-done close-and-create jobs in one calendar."""
    items = list(store.list(calendar_path))
    by_uid: dict[str, Stored] = {}
    for stored in items:
        by_uid.setdefault(stored.action.uid, stored)
    successors: dict[str, list[Stored]] = defaultdict(list)
    for stored in items:
        if stored.action.previous:
            successors[stored.action.previous].append(stored)
    findings: list[Finding] = []
    for pred_uid, found in sorted(successors.items()):
        predecessor = by_uid.get(pred_uid)
        if predecessor is None:
            continue  # the predecessor was deleted on purpose: the successor is a plain action
        findings += _mend_chain(store, predecessor, found, by_uid, fix, now)
    for stored in items:
        next_uid = stored.action.next
        if not next_uid or successors.get(stored.action.uid):
            continue  # no NEXT, or the chain was looked at above
        if next_uid not in by_uid:
            findings.append(Finding("dangling-next", stored.path,
                                    f"closed with next action {next_uid}, which is gone",
                                    False))
        elif by_uid[next_uid].action.previous != stored.action.uid:
            findings.append(Finding(
                "stale-next", stored.path,
                f"its next action {next_uid} follows another action (a copied item?); "
                "the page treats this one as having no next action", False))
    return findings


def _stale_next(predecessor: Stored, by_uid: dict[str, Stored]) -> str | None:
    """The predecessor's NEXT when it names an item that does not point back, else None."""
    linked = by_uid.get(predecessor.action.next or "")
    if linked is None or linked.action.previous == predecessor.action.uid:
        return None
    return linked.action.uid


def _mend_chain(store: Store, predecessor: Stored, found: list[Stored],
                by_uid: dict[str, Stored], fix: bool,
                now: dt.datetime | None) -> list[Finding]:
    findings: list[Finding] = []
    linked = predecessor.action.next
    keeper = next((s for s in found if s.action.uid == linked), None)
    if keeper is None:
        # No NEXT, or a stale one (it names an item that does not point back, copied with
        # the item by a calendar app): the successors found here are the only ones.
        ours = [s for s in found if _derived(predecessor, s)]
        keeper = min(ours or found, key=_age)
        detail = (f"successor {keeper.href} exists but the predecessor "
                  + ("is still open" if not predecessor.action.closed else "has no next link"))
        # Only a successor close-and-create made (derived UID) proves the close was meant;
        # an item a client copied with our chain property in it does not.
        mendable = bool(ours)
        fixed = False
        if fix and mendable:
            fixed = _finish_close(store, predecessor, keeper,
                                  _stale_next(predecessor, by_uid), now)
        findings.append(Finding("unfinished-close", predecessor.path, detail, fixed,
                                mendable and not fix))
    for other in found:
        if other.path == keeper.path:
            continue
        ours = _untouched(other) and _derived(predecessor, other)
        fixed = False
        if fix and ours:
            try:
                store.delete(other)
                fixed = True
            except StoreError:
                fixed = False
        why = ("a second successor nobody has used" if ours
               else "a second successor someone has already changed")
        findings.append(Finding("duplicate-successor", other.path,
                                f"{why}; kept {keeper.href}", fixed, ours and not fix))
    return findings


def _finish_close(store: Store, predecessor: Stored, keeper: Stored, stale: str | None,
                  now: dt.datetime | None) -> bool:
    uid, href = keeper.action.uid, keeper.href

    def change(cal):
        current = model.read(cal).next
        if current and current not in (uid, stale):
            raise _Settled()  # someone linked another successor meanwhile: theirs stands
        return model.close_and_link(cal, uid, href, now)

    try:
        store.modify(predecessor.path, change)
        return True
    except (_Settled, Conflict):
        return False


class _Settled(Exception):
    pass


def _age(stored: Stored) -> tuple[str, str]:
    comp = model.main_component(stored.cal)
    created = comp.get("CREATED") if comp is not None else None
    stamp = created.dt.isoformat() if hasattr(created, "dt") else "9999"
    return (stamp, stored.action.uid)


def _untouched(stored: Stored) -> bool:
    """As followup made it: nobody edited, closed or chained it since."""
    action = stored.action
    return action.sequence == 0 and not action.closed and not action.next


def _derived(predecessor: Stored, successor: Stored) -> bool:
    """The successor's UID is one close-and-create would derive for this predecessor."""
    uid = predecessor.action.uid
    top = predecessor.action.sequence + GENERATION_SLACK
    return any(model.successor_uid(uid, g) == successor.action.uid for g in range(top + 1))
