"""A person's browser, minus the rendering: open a page link, fill a form, submit it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import requests


@dataclass
class Page:
    url: str
    html: str
    session: requests.Session

    @classmethod
    def open(cls, url: str, session: requests.Session | None = None) -> Page:
        session = session or requests.Session()
        response = session.get(url, timeout=30)
        response.raise_for_status()
        return cls(response.url, response.text, session)

    def form(self, action: str) -> tuple[str, dict[str, str]]:
        """The target and the pre-filled fields of <form data-action="...">."""
        pattern = (r'<form[^>]*action="([^"]+)"[^>]*data-action="' + re.escape(action)
                   + r'"[^>]*>(.*?)</form>')
        match = re.search(pattern, self.html, re.S)
        if match is None:
            raise AssertionError(f"no {action!r} form on {self.url}")
        target, body = unescape(match.group(1)), match.group(2)
        fields = {unescape(n): unescape(v) for n, v in
                  re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body)}
        for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>',
                                        body, re.S):
            chosen = re.search(r'value="([^"]*)"\s+selected', options)
            fields[name] = unescape(chosen.group(1)) if chosen else ""
        return urljoin(self.url, target), fields

    def has_form(self, action: str) -> bool:
        return f'data-action="{action}"' in self.html

    def submit(self, action: str, **changes: str) -> requests.Response:
        target, fields = self.form(action)
        fields.update(changes)
        return self.session.post(target, data=fields, timeout=30, allow_redirects=False)

    def follow(self, response: requests.Response) -> Page:
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return Page.open(urljoin(self.url, response.headers["Location"]), self.session)
