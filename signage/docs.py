"""Keep the README's quoted CLI help in step with the CLI: `python -m signage.docs` rewrites every block that
follows a `<!-- help: signage ... -->` marker (tests/test_docs.py fails when one is out of date)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from signage.cli import build_parser

MARKER = re.compile(r"(<!-- help: (.+?) -->\n```text\n)(.*?)(\n```)", flags=re.S)


def command_help(command: str) -> str:
    """The help text of `signage`, `signage demo`, `signage config check`, ..."""
    parser = build_parser()
    for word in command.split()[1:]:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subparsers.choices[word]
    return parser.format_help().rstrip()


def render(readme: str) -> str:
    return MARKER.sub(lambda m: f"{m[1]}$ {m[2]} --help\n{command_help(m[2])}{m[4]}", readme)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    text = path.read_text()
    updated = render(text)
    if updated != text:
        path.write_text(updated)
        print(f"updated the CLI help quoted in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
