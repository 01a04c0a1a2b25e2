"""`signage content validate|list|add`: operator tools for the content pool manifest.

- `validate` loads the manifest (every problem at once) and decodes every media file, as the player would.
- `list` prints the items as a table (or JSON).
- `add FILE` appends an item: a file outside the manifest's folder is copied into its `images/` or `videos/`
  folder first; the new manifest is validated before it replaces the old one (atomically), so a mistake never
  leaves a broken pool behind for a running screen's hot reload.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

from signage.config.rules import WEEKDAYS
from signage.content import ContentPool, PoolError, load_pool
from signage.types import ContentItem, ContentKind

__all__ = ["add_content_commands", "run_content"]

EXIT_OK = 0
EXIT_USAGE = 2

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})


def add_content_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], formatter: type[argparse.HelpFormatter]
) -> None:
    content = commands.add_parser(
        "content",
        formatter_class=formatter,
        help="check, list and add content items",
        description="Content pool tools.",
    )
    actions = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)

    def pool_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pool", type=Path, default=None, help="pool manifest (default: content.pool of --config)")
        parser.add_argument("--config", type=Path, default=None, help="config file naming the pool (TOML)")

    validate = actions.add_parser(
        "validate",
        formatter_class=formatter,
        help="validate the manifest and decode every media file",
        description="Validate a content pool: the manifest (every problem at once) and every media file.",
    )
    pool_option(validate)

    listing = actions.add_parser(
        "list", formatter_class=formatter, help="list the items of the pool", description="List the content pool."
    )
    pool_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    add = actions.add_parser(
        "add",
        formatter_class=formatter,
        help="add an item to the pool (validated before it is written)",
        description="Add an item to the content pool. A file outside the pool's folder is copied into its images/ "
        "or videos/ folder. The manifest is only replaced when the result is valid.",
    )
    pool_option(add)
    add.add_argument("file", nargs="?", type=Path, default=None, help="image or video file (omit for --kind text)")
    add.add_argument("--id", dest="item_id", default=None, help="item id (default: from the file name)")
    add.add_argument("--kind", choices=("image", "video", "text"), default=None, help="default: from the extension")
    add.add_argument("--duration", type=float, default=8.0, help="seconds on screen (default 8)")
    add.add_argument("--advertiser", required=True, help="who the item is for")
    add.add_argument("--category", required=True, help="category, e.g. food, alcohol, finance")
    add.add_argument("--tags", default="", help="comma-separated lowercase words, e.g. coffee,warm")
    add.add_argument("--title", default="", help="human title (the card's text for --kind text)")
    add.add_argument("--restricted", action="store_true", help="never shown when a minor may be present")
    add.add_argument("--motion", action="store_true", help="the item moves (default for videos)")
    add.add_argument("--detail", default="", metavar="ITEM_ID", help="the item's detail page (another item's id)")
    add.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="WINDOW",
        help="a weekly window '[DAYS ]HH:MM-HH:MM' in store time, e.g. 'mon-fri 06:30-11:00'; repeatable "
        "(default: all day, every day)",
    )
    add.add_argument("--start-date", default="", metavar="YYYY-MM-DD", help="first local date it may play")
    add.add_argument("--end-date", default="", metavar="YYYY-MM-DD", help="last local date it may play")
    add.add_argument("--share-min", type=float, default=None, help="guaranteed share of each day's screen time (0-1)")
    add.add_argument("--share-max", type=float, default=None, help="largest share of each day's screen time (0-1)")


def run_content(args: argparse.Namespace) -> int:
    try:
        manifest = _manifest_path(args)
    except ValueError as exc:
        print(f"signage content: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.content_command == "validate":
        return _validate(manifest)
    if args.content_command == "list":
        return _list(manifest, as_json=args.json)
    if args.content_command == "add":
        return _add(manifest, args)
    raise AssertionError(args.content_command)


def _manifest_path(args: argparse.Namespace) -> Path:
    if args.pool is not None:
        return Path(args.pool)
    from signage.config import ConfigError, load_config

    try:
        return Path(load_config(args.config).content.pool)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _file_problems(pool: ContentPool) -> list[str]:
    from signage.content_watch import probe_item  # imports pygame: only when a command needs it

    problems = []
    for index, item in enumerate(pool):
        reason = probe_item(item)
        if reason is not None:
            problems.append(f"item {index} (id {item.item_id!r}): file: {reason}")
    return problems


def _validate(manifest: Path) -> int:
    try:
        pool = load_pool(manifest)
    except PoolError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    problems = _file_problems(pool)
    if problems:
        print(PoolError(manifest, problems), file=sys.stderr)
        return EXIT_USAGE
    kinds = {kind: sum(item.kind is kind for item in pool) for kind in ContentKind}
    counts = ", ".join(f"{n} {kind.value}" for kind, n in kinds.items() if n)
    print(f"{manifest}: ok ({len(pool)} items: {counts})")
    return EXIT_OK


def _relative(item: ContentItem, base_dir: Path) -> str:
    if not item.path:
        return ""
    path = Path(item.path)
    return str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else str(path)


def _list(manifest: Path, *, as_json: bool) -> int:
    try:
        pool = load_pool(manifest, check_files=False)
    except PoolError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    rows: list[dict[str, Any]] = [
        {
            "id": item.item_id,
            "kind": item.kind.value,
            "duration_s": item.duration_s,
            "advertiser": item.advertiser,
            "category": item.category,
            "restricted": item.restricted,
            "motion": item.motion,
            "tags": list(item.tags),
            "file": _relative(item, pool.base_dir),
            "detail": item.detail_id,
            **_rules_of(pool, item.item_id),
        }
        for item in pool
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    columns = ("id", "kind", "duration_s", "category", "advertiser", "restricted", "motion", "tags", "file")
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row_cells in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)).rstrip())
    return EXIT_OK


def _rules_of(pool: ContentPool, item_id: str) -> dict[str, Any]:
    """The item's own schedule and share keys as the manifest set them (null where not set)."""
    rules = pool.item_rules.get(item_id)
    windows = rules.windows if rules is not None and "windows" in rules.model_fields_set else None
    return {
        "schedule": [w.model_dump() for w in windows] if windows is not None else None,
        "start_date": rules.start_date.isoformat() if rules is not None and rules.start_date else None,
        "end_date": rules.end_date.isoformat() if rules is not None and rules.end_date else None,
        "share_min": rules.min_share if rules is not None else None,
        "share_max": rules.max_share if rules is not None else None,
    }


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "-"
    if isinstance(value, list):
        return ",".join(value) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) or "-"


def parse_window(text: str) -> dict[str, Any]:
    """'[DAYS ]HH:MM-HH:MM' -> a schedule window table; DAYS is a comma list of days or ranges ('mon-fri,sun').

    Only the shape is checked here; the times and the window itself are validated with the whole pool."""
    days_text, _, span = text.strip().rpartition(" ")
    start, sep, end = span.partition("-")
    if not sep or not start or not end:
        raise ValueError(f"--schedule {text!r}: expected '[DAYS ]HH:MM-HH:MM', e.g. 'mon-fri 06:30-11:00'")
    window: dict[str, Any] = {}
    if days_text.strip():
        days: list[str] = []
        for part in days_text.replace(" ", "").lower().split(","):
            first, dash, last = part.partition("-")
            if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
                raise ValueError(f"--schedule {text!r}: {part!r} is not a day or range of {', '.join(WEEKDAYS)}")
            lo, hi = WEEKDAYS.index(first), WEEKDAYS.index(last if dash else first)
            span_days = [WEEKDAYS[i % 7] for i in range(lo, hi + 1 if hi >= lo else hi + 8)]
            days += [day for day in span_days if day not in days]
        window["days"] = days
    return window | {"start": start, "end": end}


def _rule_keys(args: argparse.Namespace) -> dict[str, Any]:
    """The optional detail, schedule, date and share keys given on the command line, as manifest keys."""
    keys: dict[str, Any] = {}
    if args.detail:
        keys["detail"] = args.detail
    if args.schedule:
        keys["schedule"] = [parse_window(text) for text in args.schedule]
    for flag, key in (("start_date", "start_date"), ("end_date", "end_date")):
        value = getattr(args, flag)
        if value:
            try:
                keys[key] = date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"--{flag.replace('_', '-')} {value!r}: expected a date YYYY-MM-DD") from None
    if args.share_min is not None:
        keys["share_min"] = args.share_min
    if args.share_max is not None:
        keys["share_max"] = args.share_max
    return keys


def _toml(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()  # a TOML local date
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml(v)}" for key, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _add(manifest: Path, args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"signage content add: {message}", file=sys.stderr)
        return EXIT_USAGE

    try:
        load_pool(manifest)
    except PoolError as exc:
        return fail(f"fix the pool first:\n{exc}")
    source: Path | None = args.file
    kind = args.kind
    if kind is None:
        if source is None:
            return fail("give a FILE, or --kind text with --title")
        suffix = source.suffix.lower()
        kind = "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None
        if kind is None:
            return fail(f"{source}: unknown file type {suffix!r}; pass --kind")
    if kind == "text" and source is not None:
        return fail("a text item has no file; its --title is the card's text")
    try:
        rule_keys = _rule_keys(args)
    except ValueError as exc:
        return fail(str(exc))
    item_id = args.item_id or (re.sub(r"[^A-Za-z0-9_.-]+", "-", source.stem).strip("-.") if source else "")
    table: dict[str, Any] = {"id": item_id}
    copied: Path | None = None
    if source is not None:
        from signage.content_watch import probe_item

        reason = probe_item(ContentItem(item_id or "new", str(source), ContentKind(kind), 1.0, "-", "-"))
        if reason is not None:
            return fail(reason)
        base_dir = manifest.parent.resolve()
        resolved = source.resolve()
        if not resolved.is_relative_to(base_dir):
            target = base_dir / ("images" if kind == "image" else "videos") / source.name
            if target.exists() and target.read_bytes() != resolved.read_bytes():
                return fail(f"{target} exists with other content; rename the file or pass --id and a new name")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resolved, target)
                copied = target
            resolved = target
        table["file"] = resolved.relative_to(base_dir).as_posix()
    tags = [tag.strip() for tag in args.tags.split(",") if tag.strip()]
    table |= {"kind": kind, "duration_s": args.duration, "advertiser": args.advertiser, "category": args.category}
    table |= {"tags": tags, "motion": args.motion or kind == "video", "restricted": args.restricted}
    if args.title:
        table["title"] = args.title
    table |= rule_keys
    text = manifest.read_text(encoding="utf-8")
    block = "[[item]]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in table.items())
    updated = text.rstrip("\n") + "\n\n" + block
    candidate = manifest.with_name(f".{manifest.name}.adding")
    candidate.write_text(updated, encoding="utf-8")
    try:
        load_pool(candidate)
    except PoolError as exc:
        candidate.unlink()
        if copied is not None:
            copied.unlink()
        return fail("the item was not added:\n" + "\n".join(f"  - {p}" for p in exc.problems))
    candidate.replace(manifest)
    print(f"{manifest}: added {kind} item {item_id!r}" + (f" (copied to {copied})" if copied else ""))
    return EXIT_OK
