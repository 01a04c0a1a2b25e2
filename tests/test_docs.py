"""Docs that cannot drift: the README's quick start and quoted CLI help match the real Makefile and CLI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from signage.cli import build_parser
from signage.docs import command_help, render

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
HELP_BLOCKS = re.findall(r"<!-- help: (.+?) -->\n```text\n\$ .+? --help\n(.*?)\n```", README, flags=re.S)


def test_readme_help_is_current() -> None:
    assert render(README) == README, "run: python -m signage.docs"


def test_quick_start_is_exactly_two_make_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_make_targets_exist_and_ci_runs_the_readme_test_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M)
    assert re.search(r"^test:", makefile, flags=re.M)
    assert "signage demo" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def _commands(parser: argparse.ArgumentParser, name: str) -> list[str]:
    """Every command line that ends in a leaf command: `signage demo`, `signage config check`, ..."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return [name]
    return [leaf for word, sub in subparsers[0].choices.items() for leaf in _commands(sub, f"{name} {word}")]


def test_readme_quotes_every_command() -> None:
    quoted = {name for name, _ in HELP_BLOCKS}
    assert quoted == {"signage", *_commands(build_parser(), "signage")}


@pytest.mark.parametrize(("command", "text"), HELP_BLOCKS, ids=[name for name, _ in HELP_BLOCKS])
def test_readme_help_matches_cli(command: str, text: str) -> None:
    assert text == command_help(command), f"README help for `{command}` is out of date: python -m signage.docs"


def test_metrics_doc_defines_every_metric() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    for term in ("passer-by", "watcher", "dwell time", "attention time", "notice rate", "hold rate", "exposure"):
        assert term in doc
