"""`signage policy show|reset`: the operator's view of the learned state's snapshot, and its reset.

- `show` prints what the snapshot holds (policy, version, when saved, rewards learned), or says there is none.
- `reset` moves the snapshot aside (`<name>.reset-<utc stamp>`, so the old state can be put back by renaming the
  file) and leaves a reset request: a running engine learns from scratch within a second, otherwise the next start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from signage.config import ConfigError, load_config
from signage.decision.persistence import (
    SnapshotError,
    move_aside,
    read_snapshot_info,
    remove_temporaries,
    request_reset,
)

__all__ = ["add_policy_commands", "run_policy"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_policy_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], formatter: type[argparse.HelpFormatter]
) -> None:
    policy = commands.add_parser(
        "policy",
        formatter_class=formatter,
        help="show or reset the learned policy state",
        description="The learned policy state, saved at decision.snapshot_path.",
    )
    actions = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        formatter_class=formatter,
        help="print what the snapshot of the learned state holds",
        description="Print the policy snapshot's header (policy, version, when saved, rewards learned).",
    )
    reset = actions.add_parser(
        "reset",
        formatter_class=formatter,
        help="forget the learned state: a running engine learns from scratch, or the next start does",
        description=(
            "Move the policy snapshot aside (renamed <name>.reset-<utc stamp>, so it can be put back) and ask a "
            "running engine to learn from scratch (it does within a second, and saves the fresh state); without "
            "a running engine, the next start learns from scratch."
        ),
    )
    for action in (show, reset):
        action.add_argument(
            "--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted"
        )
    show.add_argument("--json", action="store_true", help="print JSON instead of text")


def run_policy(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"signage policy: {error}", file=sys.stderr)
        return EXIT_USAGE
    path = Path(config.decision.snapshot_path)
    if args.policy_command == "show":
        try:
            info = read_snapshot_info(path)
        except FileNotFoundError:
            print(f"no policy snapshot at {path}: the policy starts fresh")
            return EXIT_OK
        except SnapshotError as error:
            print(f"signage policy show: {error} (the engine will move it aside and start fresh)", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            print(json.dumps(info.to_json(), indent=2))
        else:
            learned = "unknown" if info.updates is None else str(info.updates)
            print(f"policy snapshot {path}")
            print(f"  policy           {info.policy} version {info.version} (snapshot format {info.format})")
            print(f"  saved            {info.saved_utc}")
            print(f"  rewards learned  {learned}")
            print(f"  size             {info.payload_bytes} bytes")
        return EXIT_OK
    if args.policy_command == "reset":
        try:
            moved = move_aside(path, "reset") if path.exists() else None
            request_reset(path)
            remove_temporaries(path)
        except OSError as error:
            print(f"signage policy reset: cannot reset {path}: {error}", file=sys.stderr)
            return EXIT_FAILED
        kept = f"the learned state was moved aside to {moved}" if moved else f"there was no snapshot at {path}"
        print(f"policy reset: {kept}; a running engine learns from scratch within a second, otherwise the next start")
        return EXIT_OK
    raise AssertionError(args.policy_command)
