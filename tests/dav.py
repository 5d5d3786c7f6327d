"""Raw CalDAV requests as a client sends them (PUT with preconditions, GET)."""

from __future__ import annotations

import requests


class Client:
    """A calendar client logged in as one user: it PUTs what it likes and reads it back."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.auth = (user, password)

    def url(self, path: str) -> str:
        return self.base_url + path

    def put(self, path: str, text: str, etag: str | None = None) -> requests.Response:
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"
        return self.http.put(self.url(path), data=text.encode("utf-8"), headers=headers,
                             timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url(path), timeout=30)

    def text(self, path: str) -> str:
        response = self.get(path)
        response.raise_for_status()
        return response.text
