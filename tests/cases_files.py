"""The client bug shapes: the copies in tests/cases/ and any newer ones in ../shared/cases/."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "cases"


def case_files() -> list[Path]:
    found = {p.name: p for p in (HERE / "cases").glob("*.ics")}
    if SHARED.is_dir():
        found.update({p.name: p for p in SHARED.glob("*.ics")})
    return [found[name] for name in sorted(found)]
