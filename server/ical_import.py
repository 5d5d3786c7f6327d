"""Bulk import of VTODO and VEVENT items from an .ics file.

The file is cut into its top-level components first, so that one broken item is reported
with its line number and the others are still imported.
"""

from __future__ import annotations

import codecs
import hashlib
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import icalendar

from server import model
from server.store import Conflict, Store, StoreError, item_path

ACTION_COMPONENTS = ("VTODO", "VEVENT")
CONTENT_UID = "import-"  # prefix of the UIDs given to items that came without one


@dataclass
class Block:
    name: str
    first_line: int
    lines: list[str]


@dataclass
class Report:
    imported: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"imported {self.imported}"]
        parts.append(f"skipped {len(self.skipped)}")
        parts.append(f"failed {len(self.failed)}")
        lines = [", ".join(parts)]
        lines += [f"  skipped: {why}" for why in sorted(self.skipped, key=_line_number)]
        lines += [f"  failed: {why}" for why in sorted(self.failed, key=_line_number)]
        return "\n".join(lines)


class NotText(ValueError):
    """The file is not UTF-8 text; the message names the first line that is not."""


def decode(data: bytes) -> str:
    """The file's text, read as UTF-8 only.

    Guessing another encoding could store wrong letters for good: the user is told which line
    to fix instead.
    """
    data = data.removeprefix(codecs.BOM_UTF8)  # some Windows editors write one
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Counted the way split() counts lines, so the number matches its messages; the "x"
        # stands for the bad line (the prefix may end with a line break).
        number = len((data[:exc.start].decode("utf-8") + "x").splitlines())
        raise NotText(f"line {number} is not UTF-8 text: "
                      "save the file as UTF-8 and import it again") from None


# Components that only ever sit directly in a VCALENDAR: one of these starting inside another
# means the other was never closed (a cut-and-paste, a truncated export).
TOP_LEVEL = frozenset({"VTODO", "VEVENT", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"})


def _line_number(message: str) -> int:
    """Messages in file order: 'line 12: …' sorts by 12; others come last."""
    words = message.split(":", 1)[0].split()
    return int(words[1]) if len(words) == 2 and words[0] == "line" and words[1].isdigit() \
        else 1 << 30


def split(text: str) -> tuple[list[Block], list[str]]:
    """Top-level components inside the VCALENDAR(s), and problems with the nesting.

    Tolerant: a component left open is reported and the next one still read; components
    outside any VCALENDAR are read as if inside one.
    """
    blocks: list[Block] = []
    problems: list[str] = []
    stack: list[str] = []
    current: Block | None = None

    def abandon(why: str) -> None:
        nonlocal current
        if current is not None:
            problems.append(f"line {current.first_line}: {current.name} is never closed{why}")
        current = None
        del stack[1:]

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        upper = line.upper()
        if upper.startswith("BEGIN:"):
            name = upper[6:].strip()
            if name == "VCALENDAR":
                abandon(f" (a new VCALENDAR starts at line {number})")
                stack[:] = [name]
                continue
            if name in TOP_LEVEL and len(stack) >= 2:
                abandon(f" (BEGIN:{name} at line {number} starts another)")
            if not stack:
                stack.append("VCALENDAR")
            stack.append(name)
            if len(stack) == 2:
                current = Block(name, number, [])
        elif upper.startswith("END:"):
            name = upper[4:].strip()
            if name == "VCALENDAR":
                abandon(f" (the VCALENDAR ends at line {number})")
                stack.clear()
                continue
            if not stack or stack[-1] != name:
                problems.append(f"line {number}: END:{name} does not close "
                                f"{'BEGIN:' + stack[-1] if stack else 'anything'}")
                if current is not None and name == current.name:
                    current.lines.append(line)
                    blocks.append(current)
                    current = None
                    del stack[1:]
                continue
            stack.pop()
            if len(stack) == 1 and current is not None:
                current.lines.append(line)
                blocks.append(current)
                current = None
                continue
        if current is not None:
            current.lines.append(line)
    abandon("")
    return blocks, problems


def _calendar(blocks: list[Block], zones: dict[str, Block]) -> icalendar.Calendar:
    """One calendar object: the item's components and the time zones they name."""
    item_text = "\n".join(line for block in blocks for line in block.lines)
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{model.PRODID}"]
    for tzid, zone in zones.items():
        if f"TZID={tzid}" in item_text or f'TZID="{tzid}"' in item_text:
            body += zone.lines
    for block in blocks:
        body += block.lines
    return model.parse("\r\n".join(body + ["END:VCALENDAR", ""]))


def run(store: Store, calendar_path: str, text: str, progress: bool = False) -> Report:
    report = Report()
    blocks, problems = split(text)
    report.failed += problems
    zones, items = _group(blocks, report)
    if not blocks and not problems:
        report.failed.append("no VCALENDAR with tasks or events in it: is this an .ics file?")
    total = len(items)
    for done, (uid, group) in enumerate(items.items(), start=1):
        where = f"line {group[0].first_line}"
        try:
            cal = _calendar(group, zones)
            if not model.read(cal).uid:
                cal = _with_uid(cal, uid)
            broken = model.date_problems(cal)
            if broken:
                raise model.ActionError("; ".join(broken))
            store.create(item_path(calendar_path, model.read(cal).uid), cal)
            report.imported += 1
        except Conflict:
            named = repr(_summary(group)) + ("" if uid.startswith(CONTENT_UID) else f" ({uid})")
            report.skipped.append(f"{where}: {named} is already in the calendar")
        except model.ActionError as exc:
            report.failed.append(f"{where}: {exc}")
        except StoreError as exc:
            if "refused the user name" in str(exc) or "cannot reach" in str(exc):
                raise
            report.failed.append(f"{where}: {exc}")
        except Exception as exc:  # one odd item must not stop the others: say which
            report.failed.append(f"{where}: cannot read this item ({type(exc).__name__}: "
                                 f"{exc})")
        if progress:
            _bar(done, total)
    if progress and total:
        sys.stderr.write("\n")
    return report


def _group(blocks: list[Block], report: Report) -> tuple[dict[str, Block],
                                                       dict[str, list[Block]]]:
    """The time zones by TZID, and the actions by UID: one calendar object each."""
    zones: dict[str, Block] = {}
    items: dict[str, list[Block]] = defaultdict(list)
    masters: dict[str, Block] = {}
    for block in blocks:
        if block.name == "VTIMEZONE":
            zones[_own(block, "TZID") or ""] = block
        elif block.name in ACTION_COMPONENTS:
            given = _own(block, "UID")
            # No UID: one derived from the item's text, so a second import finds it again
            # and two different items never share one.
            uid = given or _content_uid(block)
            # Overrides (RECURRENCE-ID) travel with their series; a second master with the
            # same UID would make the server refuse the whole object, the first one too.
            if _own(block, "RECURRENCE-ID") is None:
                if uid in masters:
                    report.skipped.append(_repeated(block, masters[uid], given))
                    continue
                masters[uid] = block
            items[uid].append(block)
        else:
            report.skipped.append(f"line {block.first_line}: {block.name} is not an action")
    return zones, items


def _own(block: Block, name: str) -> str | None:
    """The value of the block's own property `name` (unfolded), None if it has none.

    Nested components are left out: a VALARM may carry a UID of its own (RFC 9074).
    """
    depth = 0
    for line in _unfold(block.lines):
        key, _, value = line.partition(":")
        key = key.split(";", 1)[0].strip().upper()
        if key == "BEGIN":
            depth += 1
        elif key == "END":
            depth -= 1
        elif depth == 1 and key == name:
            return value.strip()
    return None


def _unfold(lines: list[str]) -> list[str]:
    """Content lines with their folded continuations joined back (RFC 5545, 3.1)."""
    joined: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and joined:
            joined[-1] += line[1:]
        else:
            joined.append(line)
    return joined


def _repeated(block: Block, first: Block, uid: str | None) -> str:
    where = f"line {block.first_line}"
    if not uid:  # same text, no UID: a plain repeat (and the made-up UID means nothing)
        return f"{where}: the same item as line {first.first_line}: skipped"
    return (f"{where}: another item with UID {uid} (line {first.first_line}) came first: "
            "skipped; give it its own UID to import it")


def _content_uid(block: Block) -> str:
    digest = hashlib.sha256("\n".join(block.lines).encode()).hexdigest()[:32]
    return f"{CONTENT_UID}{digest}"


def _summary(group: list[Block]) -> str:
    for line in group[0].lines:
        if line.upper().startswith("SUMMARY"):
            return line.split(":", 1)[-1]
    return "(no summary)"


def _with_uid(cal: icalendar.Calendar, uid: str) -> icalendar.Calendar:
    comp = model.main_component(cal)
    comp.add("UID", uid)
    return cal


def _bar(done: int, total: int, width: int = 30) -> None:
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()
