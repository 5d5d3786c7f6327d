"""Where followup keeps its data, and the secrets it makes at first start.

Layout of the data folder (default ``var/``)::

    var/secret_key      signs page links and sessions (0600, made at first start)
    var/users           bcrypt htpasswd of the people who log in
    var/service         the companion's own CalDAV password (0600, made at first start)
    var/sessions        when each user's page sessions were last ended (logout, new password)
    var/server_url      where the last `followup serve` listened; var/base_url: its links
    var/serve.lock      held (flock) by the running `followup serve`, with its process id
    var/collections/    Radicale's storage
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SERVICE_USER = "followup-service"
ACTIONS_CALENDAR = "actions"


def _secret_file(path: Path, nbytes: int = 32) -> str:
    """Read a secret, or make one with owner-only permissions if there is none yet."""
    for _ in range(50):
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = None
        if value:
            if path.stat().st_mode & 0o077:
                # Someone copied it with loose permissions: a readable secret forges links.
                path.chmod(0o600)
            return value
        if value is None:
            try:
                _write_secret(path, secrets.token_urlsafe(nbytes), exclusive=True)
            except FileExistsError:
                pass  # another process made it at the same moment: read theirs
        time.sleep(0.01)  # made but not yet written by that other process
    raise RuntimeError(f"{path} is empty: delete it and start again")


def _write_secret(path: Path, value: str, exclusive: bool) -> None:
    """Write a secret readable by its owner only; never a moment with wider permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return
    # Replace atomically: readers see the old secret or the new one, never half of one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.replace(tmp, path)


class AlreadyServing(RuntimeError):
    """Another `followup serve` holds this data folder."""

    def __init__(self, root: Path, pid: str) -> None:
        self.root, self.pid = root, pid
        super().__init__(f"another followup serve{f' (process {pid})' if pid else ''} is "
                         f"already running on {root}: stop it first, or give this one "
                         "another --data folder")


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> DataDir:
        root = Path(path).resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def users_file(self) -> Path:
        return self.root / "users"

    @property
    def collections(self) -> Path:
        return self.root / "collections"

    @property
    def sessions_file(self) -> Path:
        return self.root / "sessions"

    @property
    def rights_file(self) -> Path:
        return self.root / "rights"

    def secret_key(self) -> str:
        return _secret_file(self.root / "secret_key")

    def existing_secret_key(self) -> str | None:
        """The site secret if this folder has one; never makes one (a new one would sign
        links that no server accepts)."""
        try:
            return (self.root / "secret_key").read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def rotate_secret_key(self) -> str:
        """A new site secret: every page link and session signed so far stops working."""
        value = secrets.token_urlsafe(32)
        _write_secret(self.root / "secret_key", value, exclusive=False)
        return value

    def service_password(self) -> str:
        return _secret_file(self.root / "service", 24)

    def hold_for_serving(self) -> IO[str]:
        """Take the data folder for one `followup serve`; AlreadyServing if another has it.

        Two servers on one folder would each write server_url and base_url, stamp links with
        their own address and cache logins and listings apart. The lock is an flock on
        var/serve.lock: the kernel drops it when the process ends, however it ends, so a
        crashed server's file never blocks the next start. Keep the returned file open for
        as long as the server runs."""
        handle = open(self.root / "serve.lock", "a+")  # noqa: SIM115 (held until exit)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip()
            handle.close()
            raise AlreadyServing(self.root, pid) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle

    def remember_server_url(self, url: str) -> None:
        """Record where `followup serve` listens, for the commands it prints later."""
        (self.root / "server_url").write_text(url + "\n")

    def recorded(self, name: str) -> str | None:
        """An address recorded by the last start (`server_url`, `base_url`), if any."""
        try:
            return (self.root / name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def remember_base_url(self, base_url: str) -> str | None:
        """Record the address written into links; return the one recorded before, if any."""
        path = self.root / "base_url"
        try:
            previous = path.read_text().strip() or None
        except FileNotFoundError:
            previous = None
        if previous != base_url:
            path.write_text(base_url + "\n")
        return previous
