"""The README's command table names every option each command takes (followup CMD --help)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from server import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    """(command words, parser) for every command that runs, nested ones too (user add)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*words, name))
    if words and parser.get_default("run"):
        yield " ".join(words), parser


def test_every_option_of_every_command_is_in_its_table_row():
    rows = {}
    for line in README.read_text().splitlines():
        found = re.match(r"\| `followup ([a-z -]+?)(?= [A-Z\[-]|`)", line)
        if found:
            rows[found.group(1).strip()] = line.split(" | ")[0]
    commands = dict(_commands(cli.build_parser()))
    assert set(commands) == set(rows), "a command is missing from the README table"
    missing = [f"{name} {option}" for name, parser in commands.items()
               for action in parser._actions for option in action.option_strings
               if option.startswith("--") and option != "--help" and option not in rows[name]]
    assert not missing, "README command table leaves out: " + ", ".join(missing)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTHS = {"phone": 390 * 2, "desktop": 1280}  # the browser tests' viewports (phone at 2x)


def test_every_image_the_readme_shows_is_a_png_in_the_repository():
    """The screenshots table: each path exists, is a PNG (not an LFS pointer, not a JPEG
    renamed), is committed, and is as wide as the column it sits in says."""
    text = README.read_text()
    paths = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r'<img[^>]*src="([^"]+)"',
                                                                     text)
    assert len(paths) >= 8, paths
    root = README.parent
    tracked = None
    if (root / ".git").exists():
        import subprocess

        tracked = set(subprocess.run(["git", "ls-files", "docs"], cwd=root, check=True,
                                     capture_output=True, text=True).stdout.split())
    for path in paths:
        assert path.startswith("docs/screenshots/") and path.endswith(".png"), path
        image = root / path
        assert image.is_file(), f"README shows {path}, which does not exist"
        head = image.read_bytes()[:24]
        assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path} is not a PNG"
        width = int.from_bytes(head[16:20], "big")
        for column, expected in WIDTHS.items():
            if path.endswith(f"-{column}.png"):
                assert width == expected, (path, width)
        if tracked is not None:
            assert path in tracked, f"{path} is not committed"
