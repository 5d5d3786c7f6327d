"""The next-step rule: no opportunity is left without an open action.

When an action linked to an opportunity (or, by configuration, an account or a project) is
closed and no open action remains for that record, a task "Plan the next step: <label>" (in
the team's language, ``[storage] followup_language``) due today is made, with the same links
and chained back to the closed action. Its UID is derived from the closed action's, so a
second tick, a retry or a reopen-and-close finds it instead of making another. Pure: the
Radicale plugin decides when, this module says what.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import icalendar

from server import model

# The task is made inside Radicale, where no reader's language is known: the team's one is
# configured. French typography puts a space before the colon.
TITLES = {"en": "Plan the next step: ", "fr": "Planifier la prochaine étape\u00a0: "}
LANGUAGES = tuple(TITLES)
TITLE = TITLES["en"]
RULE_NAMESPACE = uuid.UUID("1b0cf0de-6c1a-4d59-9a43-5f0c2e3f8a21")


def plan_uid(closed_uid: str) -> str:
    """The UID of the planning task made when `closed_uid` was closed (one, ever)."""
    return str(uuid.uuid5(RULE_NAMESPACE, f"{closed_uid}#next-step"))


def rule_link(action: model.Action, kinds: Iterable[str]) -> model.Link | None:
    """The first link of the configured kinds (in their order) the action carries."""
    for kind in kinds:
        link = action.links.get(kind)
        if link is not None and link.uri:
            return link
    return None


def title(label: str, language: str = "en") -> str:
    """The planning task's summary in `language` (one of LANGUAGES)."""
    # A label may be as long as a client likes; the title stays within the model's limit.
    return model.fit_summary(TITLES[language] + label)


def plan_task(closed: icalendar.Calendar, link: model.Link, today: dt.date,
              closed_href: str | None = None, now: dt.datetime | None = None,
              language: str = "en") -> icalendar.Calendar:
    """The planning task after `closed`: same links, due `today`, chained back to it."""
    action = model.read(closed)
    cal = model.new(title(link.label, language), "task", today, action.links.values(),
                    uid=plan_uid(action.uid), now=now)
    params = {"X-HREF": closed_href} if closed_href else None
    model._main(cal).add(model.PROP_PREVIOUS, action.uid, parameters=params)
    return cal
