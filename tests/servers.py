"""Real servers for tests: the whole product (Radicale + companion) on a loopback port.

Each server runs waitress in a daemon thread on 127.0.0.1 with an OS-chosen port, with
Radicale's strict_preconditions on, and stops when the test is over.
"""

from __future__ import annotations

import threading
from pathlib import Path

import waitress

from server import embedded, users
from server.settings import SERVICE_USER, DataDir
from web import create_app


class LiveServer:
    def __init__(self, root: Path, people: dict[str, str], timezone: str | None = None,
                 extra_config: Path | None = None, trusted_proxies: int = 0,
                 link_path: str = "") -> None:
        self.data = DataDir.at(root)
        self.people = people
        for name, password in people.items():
            users.set_password(self.data.users_file, name, password)
        self._app = None
        self._server = waitress.create_server(self._dispatch, host="127.0.0.1", port=0,
                                              threads=8,
                                              **embedded.waitress_options(trusted_proxies))
        self.port = self._server.effective_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.dav_url = f"{self.base_url}{embedded.DAV_PREFIX}/"
        # What page links start with: the server's address, or (`link_path`, e.g. "/crm")
        # a public address with a path, as behind a proxy that strips it.
        self.link_base = self.base_url + link_path
        # The companion's own CalDAV calls go to a second loopback listener, as in serve.
        self._internal = embedded.InternalServer(threads=8)
        self._app = embedded.build(self.data, self.link_base, self._internal.url, create_app,
                                   timezone, extra_config, strict=True)
        self._internal.start(self._app)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:  # the listening socket closed under select(): that is how we stop
            if not self._stopping:
                raise

    def _dispatch(self, environ, start_response):
        return self._app(environ, start_response)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._server.task_dispatcher.shutdown()
        self._server.close()
        self._internal.close()

    @property
    def secret_key(self) -> str:
        return self.data.secret_key()

    @property
    def service(self) -> tuple[str, str]:
        return SERVICE_USER, self.data.service_password()

    def calendar_path(self, user: str) -> str:
        return f"{embedded.DAV_PREFIX}/{user}/actions/"

    def calendar_url(self, user: str) -> str:
        return f"{self.base_url}{self.calendar_path(user)}"
