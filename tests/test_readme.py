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
