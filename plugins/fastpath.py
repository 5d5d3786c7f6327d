"""Is there anything for the plugin to do with this update? A line test, no parse.

Most updates change what people see (a title, a note, a place) and keep everything of ours:
then restoring, closing, reopening, repairing and stamping would all change nothing, and the
item can be stored as Radicale read it. Parsing both versions to find that out costs more
than Radicale's whole update, so this module answers from the content lines; any doubt
sends the update down the full path.
"""

from __future__ import annotations

import re

from server import model, protect

_TZID = re.compile(r";TZID=\"?([^:;\"]+)")
OURS = ("X-FOLLOWUP-", "URL", "DESCRIPTION")
DONE_SUMMARY = re.compile(r"^SUMMARY[^:]*:\s*[✓✔]")


def _lines(text: str) -> tuple[str, ...]:
    return protect.content_lines(text)


def nothing_to_do(text: str, old_text: str, page_url: str) -> bool:
    """True when the full path would store `text` unchanged (given `old_text` was ours).

    Requires: the page link is the one for this place (a moved or copied file needs a new
    one); every line of ours in the stored version is still there verbatim; both
    versions open (no completion to normalise); no RELATED-TO (no RELTYPE to check); the
    repairs have nothing to do (DTSTAMP present, a VTIMEZONE for each TZID, no DTSTART
    beside DUE in a task); no done mark typed in a summary. Both versions open is read off
    the lines: any completion mark anywhere sends the update down the full path.
    """
    new, old = _lines(text), _lines(old_text)
    new_set = set(new)
    if any(x.startswith(OURS) and x not in new_set for x in old):
        return False
    if not any(x.startswith(model.PROP_PAGE) and x.endswith(":" + page_url) for x in new):
        return False
    names = {re.split(r"[;:]", x, maxsplit=1)[0].upper() for x in new}
    if "RELATED-TO" in names or "DTSTAMP" not in names:
        return False
    if any(DONE_SUMMARY.match(x) for x in new):
        return False
    if "BEGIN:VTODO" in new_set and {"DTSTART", "DUE"} <= names:
        return False
    zones = {m.group(1) for x in new for m in _TZID.finditer(x.split(":", 1)[0] + ":")}
    if any(f"TZID:{zone}" not in new_set for zone in zones):
        return False
    return not _any_done_mark(new) and not _any_done_mark(old)


def _any_done_mark(lines: list[str]) -> bool:
    """Any line, in any component, that could say "done" (doubt: the full path decides)."""
    for line in lines:
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].upper()
        if name in ("COMPLETED", model.PROP_CLOSED):
            return True
        if name == "STATUS" and value.strip().upper() == "COMPLETED":
            return True
        if name == "PERCENT-COMPLETE" and not (value.strip().isdigit()
                                               and int(value.strip()) < 100):
            return True
    return False
