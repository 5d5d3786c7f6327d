"""The text a client PUT, as it sent it, for the storage plugin to compare with vobject's.

Radicale hands ``upload()`` an item that vobject parsed and serialized again, and vobject
damages some inputs (server/protect.py). Radicale offers no hook that sees the request body
and the storage together, so this module wraps ``radicale.httputils.read_request_body`` (the
one function every PUT reads its body with, in the exactly pinned Radicale 3.9.0) to keep the
body of the current request in a context variable. Each request runs in its own thread (or
task), so a body never leaks into another request; the path is kept with it and checked, so
a body is only ever used for the item it was sent to.
"""

from __future__ import annotations

import contextvars
import functools

from radicale import httputils, pathutils
from radicale.log import logger

_body: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "followup_put_body", default=None)


def install() -> None:
    """Wrap Radicale's body reader once per process (idempotent)."""
    reader = getattr(httputils, "read_request_body", None)
    if reader is None:  # another Radicale: no protection, said once at start
        logger.warning("followup: this Radicale has no read_request_body; what vobject "
                       "damages in uploads cannot be kept as sent")
        return
    if getattr(reader, "followup_wrapped", False):
        return

    @functools.wraps(reader)
    def read_request_body(configuration, environ, request_info):
        content = reader(configuration, environ, request_info)
        if environ.get("REQUEST_METHOD", "").upper() == "PUT":
            try:
                path = pathutils.strip_path(
                    pathutils.sanitize_path(environ.get("PATH_INFO", "")))
                _body.set((path, content))
            except Exception:  # never let the copy stop a request
                logger.debug("followup: could not keep the PUT body", exc_info=True)
        else:
            _body.set(None)
        return content

    read_request_body.followup_wrapped = True  # type: ignore[attr-defined]
    httputils.read_request_body = read_request_body


def body_for(collection_path: str, href: str) -> str | None:
    """The body of the PUT being handled, if it was sent to `collection_path`/`href`."""
    kept = _body.get()
    if kept is None:
        return None
    path, content = kept
    return content if path == f"{collection_path.strip('/')}/{href}" else None


def body_of_calendar(collection_path: str) -> str | None:
    """The body of the PUT being handled, if it replaced the whole calendar there."""
    kept = _body.get()
    if kept is None:
        return None
    path, content = kept
    return content if path == collection_path.strip("/") else None


def forget() -> None:
    _body.set(None)


# Whether the plugin stored something other than what the client sent in this request.
_changed: contextvars.ContextVar[bool] = contextvars.ContextVar("followup_changed",
                                                                 default=False)


def mark_changed() -> None:
    """Say that the item stored differs from the client's (a page link, a restored link)."""
    _changed.set(True)


def reset_changed() -> None:
    _changed.set(False)


def changed() -> bool:
    return _changed.get()
