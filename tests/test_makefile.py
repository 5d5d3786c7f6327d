"""`make`'s install step is quiet: pip's lines go to a log, shown only when pip fails.

Run with a stand-in Python whose pip prints 300 lines, so no network and no real install.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _install(tmp_path: Path, pip_status: int) -> subprocess.CompletedProcess:
    fake = tmp_path / "python3"
    # `python3 -m venv DIR` makes DIR/bin/python, whose "pip install" is 300 lines of noise.
    fake.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        mkdir -p "$3/bin"
        printf '#!/bin/sh\\nseq 300 | sed "s/^/pip noise /"\\nexit {pip_status}\\n' \\
            > "$3/bin/python"
        chmod +x "$3/bin/python"
        """))
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), f"VENV={venv}",
                           f"PYTHON={fake}", f"{venv}/.installed"],
                          capture_output=True, text=True, timeout=60)


def test_a_good_install_prints_one_line_and_keeps_the_log(tmp_path):
    done = _install(tmp_path, 0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len((done.stdout + done.stderr).splitlines()) == 1, done.stdout + done.stderr
    assert "install.log" in done.stdout
    assert "pip noise 300" in (tmp_path / "venv" / "install.log").read_text()


def test_a_failed_install_shows_what_pip_said(tmp_path):
    done = _install(tmp_path, 1)
    assert done.returncode != 0
    assert "pip noise 1" in done.stdout and "the install failed" in done.stdout
    assert not (tmp_path / "venv" / ".installed").exists()
