"""The people who log in: a bcrypt htpasswd file that Radicale reads as it is."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import bcrypt

from server.settings import SERVICE_USER

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    pass


def _read(path: Path) -> dict[str, str]:
    users = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if ":" in line and not line.startswith("#"):
                name, hashed = line.split(":", 1)
                users[name] = hashed
    return users


def _write(path: Path, users: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{name}:{hashed}\n" for name, hashed in users.items())
    os.replace(tmp, path)


def hash_password(password: str) -> str:
    # Tests lower the cost through FOLLOWUP_BCRYPT_ROUNDS; the default is bcrypt's own 12.
    rounds = int(os.environ.get("FOLLOWUP_BCRYPT_ROUNDS", "12"))
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def names(path: Path) -> list[str]:
    """The people who can log in (the companion's own account is not one of them)."""
    return [name for name in _read(path) if name != SERVICE_USER]


def set_password(path: Path, name: str, password: str | None = None,
                 allow_service: bool = False) -> str:
    """Add the user or change their password; returns the password (generated if not given)."""
    if not NAME_PATTERN.match(name):
        raise UserError(f"{name!r} is not a usable name: use letters without accents, digits "
                        "and . _ @ - (elodie, not élodie)")
    if name == SERVICE_USER and not allow_service:
        raise UserError(f"{name!r} is reserved for the companion: choose another name")
    if password is not None and not password:
        raise UserError("the password is empty: give one, or leave --password out to get one")
    password = password or secrets.token_urlsafe(12)
    users = _read(path)
    twin = next((n for n in users if n.lower() == name.lower() and n != name), None)
    if twin is not None:  # on a case-insensitive disk both would share one folder
        raise UserError(f"there is already a user {twin!r}: names must differ by more "
                        "than upper and lower case")
    users[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, users)
    return password


def check(path: Path, name: str, password: str) -> bool:
    hashed = _read(path).get(name)
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False
