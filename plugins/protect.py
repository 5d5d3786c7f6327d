"""Protect what clients send from Radicale's parser.

Radicale parses every PUT with vobject, which loses data on inputs that real clients send:
an unescaped comma in a text value cuts ``LOCATION:12 rue de l'Exemple, Lyon`` down to
``12 rue de l'Exemple``. No storage plugin can undo that, because it only ever sees vobject's
copy. So this WSGI middleware, placed in front of Radicale, re-encodes a PUT body with
icalendar (which reads such values whole and writes them escaped) before Radicale sees it.
It reads with server/ical.py, so that a list (``RESOURCES:x,y``) stays a list and a value of a
type icalendar does not know (``X-FOO;VALUE=TEXT:a,b``) stays as sent.

A body icalendar cannot read is passed on untouched: Radicale then accepts or refuses it as
it would without us.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

import icalendar

from plugins import rawbody
from server import ical, model, refusals

log = logging.getLogger("followup.protect")
MAX_BODY = 10 * 1024 * 1024  # larger bodies go to Radicale as sent; it applies its own limit


# What vobject and icalendar read alike: a content line whose value has no comma or
# semicolon except escaped ones, no other backslash than a TEXT escape, and whose name and
# parameters have no comma and no empty value. Such a body is passed on as it is, because
# re-encoding it would change nothing that matters and costs a parse (≈1 ms, more than 10 %
# of a whole update PUT). Anything else (RRULE, CATEGORIES lists, quoted parameters with
# commas, control characters) takes the full path.
_FOLDING = re.compile(r"\r?\n[ \t]")
_TEXT_ESCAPE = re.compile(r"\\[\\nN,;]")
_NAME_AND_PARAMETERS = re.compile(r'(?:[^:"]|"[^"]*")*')


def _plain_line(line: str) -> bool:
    head = _NAME_AND_PARAMETERS.match(line).group()
    if len(head) == len(line) or not head:  # no value, or a blank line: let icalendar judge
        return False
    value = _TEXT_ESCAPE.sub("", line[len(head) + 1:])
    return not ("," in head or "=;" in head or head.endswith("=") or "\\" in head
                or "," in value or ";" in value or "\\" in value)


def needs_reencoding(body: bytes) -> bool:
    """Whether vobject might read this body otherwise than icalendar (see above)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if text.startswith("\ufeff") or model.CONTROL_CHARACTERS.search(text):
        return True
    return not all(_plain_line(line) for line in _FOLDING.sub("", text).splitlines())


def reencode(body: bytes) -> bytes | None:
    """The body written so that vobject reads what the client meant, or None to leave it."""
    try:
        text = model.clean_text(body.decode("utf-8-sig"))
        cal = ical.read(text)  # lists and unknown values as sent (server/ical.py)
        if not isinstance(cal, icalendar.Calendar):
            return None
        return cal.to_ical(sorted=False)
    except Exception:  # not ours to judge: Radicale answers it
        return None


def _without_etag_if_changed(start_response: Callable) -> Callable:
    """RFC 4791 5.3.4: no ETag in a PUT answer when what was stored is not what was sent.

    The client then fetches the item again and so gets its page link; with the ETag it would
    take its own copy, without the link, for the stored one."""

    def start(status, headers, exc_info=None):
        if rawbody.changed():
            headers = [(name, value) for name, value in headers if name.lower() != "etag"]
        return start_response(status, headers, exc_info)

    return start


def _explained(start_response: Callable, body: bytes, said: list[bytes]) -> Callable:
    """Radicale's bare 400, or its 412 for a time outside the calendar, replaced by a 400
    that says what is wrong with the item (server/refusals.py); the text goes in `said`."""

    def start(status, headers, exc_info=None):
        if status.split(" ", 1)[0] in ("400", "412"):
            reason = refusals.why_refused(body)
            if reason:
                said.append(f"followup: the calendar server refused this item: {reason}.\n"
                            .encode())
                log.info("PUT refused: %s", reason)
                return start_response("400 Bad Request", [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(said[0])))], exc_info)
        return start_response(status, headers, exc_info)

    return start


def protect_input(radicale_wsgi: Callable) -> Callable:
    """Wrap Radicale so that calendar PUT bodies are re-encoded before it parses them, and
    a refused one is answered with the reason."""

    def app(environ, start_response):
        rawbody.reset_changed()
        start_response = _without_etag_if_changed(start_response)
        content_type = environ.get("CONTENT_TYPE", "")
        said: list[bytes] = []
        if environ.get("REQUEST_METHOD") == "PUT" and "calendar" in content_type.lower():
            length = int(environ.get("CONTENT_LENGTH") or 0)
            one_item = not environ.get("PATH_INFO", "").endswith("/")
            chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            if length == 0 and not chunked and one_item:  # an empty body: explained
                start_response = _explained(start_response, b"", said)
            elif 0 < length <= MAX_BODY:
                body = environ["wsgi.input"].read(length)
                fixed = reencode(body) if needs_reencoding(body) else None
                if fixed is not None and fixed != body:
                    body = fixed
                environ = dict(environ)
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
                if one_item:  # not a whole calendar
                    start_response = _explained(start_response, body, said)
        answer = radicale_wsgi(environ, start_response)
        if not said:
            return answer
        if hasattr(answer, "close"):
            answer.close()
        return said

    return app
