"""Where followup keeps its data, and the secrets it makes at first start.

Layout of the data folder (default ``var/``)::

    var/secret_key      signs page links and sessions (0600, made at first start)
    var/users           bcrypt htpasswd of the people who log in
    var/service         the companion's own CalDAV password (0600, made at first start)
    var/collections/    Radicale's storage
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "followup-service"
ACTIONS_CALENDAR = "actions"


def _secret_file(path: Path, nbytes: int = 32) -> str:
    """Read a secret, or make one with owner-only permissions if there is none yet."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


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
    def rights_file(self) -> Path:
        return self.root / "rights"

    def secret_key(self) -> str:
        return _secret_file(self.root / "secret_key")

    def service_password(self) -> str:
        return _secret_file(self.root / "service", 24)
