"""Protect what clients send from Radicale's parser.

Radicale parses every PUT with vobject, which loses data on inputs that real clients send:
an unescaped comma in a text value cuts ``LOCATION:12 rue de l'Exemple, Lyon`` down to
``12 rue de l'Exemple``. No storage plugin can undo that, because it only ever sees vobject's
copy. So this WSGI middleware, placed in front of Radicale, re-encodes a PUT body with
icalendar (which reads such values whole and writes them escaped) before Radicale sees it.

A body icalendar cannot read is passed on untouched: Radicale then accepts or refuses it as
it would without us.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import icalendar

from plugins import rawbody
from server import model

log = logging.getLogger("followup.protect")
MAX_BODY = 10 * 1024 * 1024  # larger bodies go to Radicale as sent; it applies its own limit


def reencode(body: bytes) -> bytes | None:
    """The body written so that vobject reads what the client meant, or None to leave it."""
    try:
        text = model.clean_text(body.decode("utf-8-sig"))
        cal = icalendar.Calendar.from_ical(text)
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


def protect_input(radicale_wsgi: Callable) -> Callable:
    """Wrap Radicale so that calendar PUT bodies are re-encoded before it parses them."""

    def app(environ, start_response):
        rawbody.reset_changed()
        start_response = _without_etag_if_changed(start_response)
        content_type = environ.get("CONTENT_TYPE", "")
        if environ.get("REQUEST_METHOD") == "PUT" and "calendar" in content_type.lower():
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if 0 < length <= MAX_BODY:
                body = environ["wsgi.input"].read(length)
                fixed = reencode(body)
                if fixed is not None and fixed != body:
                    body = fixed
                environ = dict(environ)
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
        return radicale_wsgi(environ, start_response)

    return app
