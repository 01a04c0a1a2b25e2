"""The learned state survives restarts: atomic, versioned snapshots of the policy, and an operator reset.

A snapshot file is three parts: a magic line, one JSON header line (format, policy name and version, when it was
saved, the payload's length and sha256) and the payload, a pickle of the policy object. Writing goes to a temporary
file in the same folder, is flushed and fsynced, then replaces the old snapshot with `Path.replace` (`os.replace`:
atomic on POSIX and Windows) and the folder is fsynced: a crash mid-write leaves the previous snapshot whole.

Loading never crashes the engine (`restore_policy`):
- no snapshot: the fresh policy is used;
- a snapshot of another policy, policy version or snapshot format: refused with a warning that names both, moved
  aside (`<name>.mismatch-<utc stamp>`) so the fresh state does not overwrite it, and the fresh policy is used;
- a corrupt snapshot (bad magic, bad header, short or altered payload, a pickle that does not load): moved aside
  (`<name>.corrupt-<utc stamp>`) with a warning, and the fresh policy is used.

An operator reset (`signage policy reset`) moves the snapshot aside (`<name>.reset-<utc stamp>`), so the old state
can still be put back by renaming it, and leaves a reset request beside it (`<name>.pending-reset`): a running engine
sees it within a second, starts learning from scratch and saves the fresh state at once (its next periodic save would
otherwise write the old state back); an engine that is not running starts fresh anyway and clears the request.
Temporary files a killed save left behind are removed at start and on reset (they hold learned state too).

The payload is a pickle, so a snapshot must only be loaded from the screen's own folder (it is never received from
elsewhere). What the engine calls:

    policy = restore_policy(build_policy(...), path)            # at start, before building the Decider
    saver = SnapshotSaver(path=path, every_s=config.decision.snapshot_interval_min * 60)
    saver.maybe_save(decider.policy, t_mono=t)                    # every tick (cheap when not due)
    saver.save(decider.policy)                                    # at finish
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signage.decision.policy import Policy

__all__ = [
    "SNAPSHOT_FORMAT",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotMismatchError",
    "SnapshotSaver",
    "load_snapshot",
    "move_aside",
    "read_snapshot_info",
    "remove_temporaries",
    "request_reset",
    "reset_request_path",
    "restore_policy",
    "save_snapshot",
]

log = logging.getLogger(__name__)

MAGIC = b"signage-policy-snapshot\n"
LEARNED_UNDER = ("reward_scale_s",)  # settings the learned state depends on: a change means starting fresh
SNAPSHOT_FORMAT = 1
_MAX_HEADER = 4096


class SnapshotError(Exception):
    """A snapshot that cannot be read: missing parts, altered bytes, or a pickle that does not load."""


class SnapshotMismatchError(SnapshotError):
    """A readable snapshot of another policy, policy version or snapshot format."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot's header says about it."""

    path: Path
    format: int
    policy: str
    version: str
    saved_utc: str
    payload_bytes: int
    sha256: str
    updates: int | None = None  # rewards the policy had learned from, when it counts them

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "policy": self.policy,
            "version": self.version,
            "saved_utc": self.saved_utc,
            "payload_bytes": self.payload_bytes,
            "sha256": self.sha256,
            "updates": self.updates,
        }


def _stamp(now_utc: datetime) -> str:
    return now_utc.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some systems (Windows): the replace is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_snapshot(policy: Policy, path: Path, *, now_utc: datetime | None = None) -> SnapshotInfo:
    """Write `policy` to `path` atomically (temporary file in the same folder, fsync, os.replace)."""
    payload = pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL)
    updates = getattr(policy, "updates", None)
    header = {
        "format": SNAPSHOT_FORMAT,
        "policy": policy.name,
        "version": policy.version,
        "saved_utc": (now_utc or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "updates": updates if isinstance(updates, int) else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(MAGIC)
            file.write(json.dumps(header, sort_keys=True).encode() + b"\n")
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)  # os.replace: atomic
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return _info(path, header)


def _info(path: Path, header: dict[str, Any]) -> SnapshotInfo:
    try:
        updates = header.get("updates")
        return SnapshotInfo(
            path=path,
            format=int(header["format"]),
            policy=str(header["policy"]),
            version=str(header["version"]),
            saved_utc=str(header["saved_utc"]),
            payload_bytes=int(header["payload_bytes"]),
            sha256=str(header["sha256"]),
            updates=int(updates) if updates is not None else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"snapshot {path}: header is missing or has a bad field ({error})") from error


def _read(path: Path) -> tuple[SnapshotInfo, bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise SnapshotError(f"snapshot {path}: cannot be read ({error})") from error
    if not data.startswith(MAGIC):
        raise SnapshotError(f"snapshot {path}: not a policy snapshot (bad magic line)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise SnapshotError(f"snapshot {path}: header line missing or too long")
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError as error:
        raise SnapshotError(f"snapshot {path}: header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise SnapshotError(f"snapshot {path}: header is not a JSON object")
    info = _info(path, header)
    payload = data[end + 1 :]
    if len(payload) != info.payload_bytes:
        raise SnapshotError(f"snapshot {path}: payload has {len(payload)} bytes, header says {info.payload_bytes}")
    if hashlib.sha256(payload).hexdigest() != info.sha256:
        raise SnapshotError(f"snapshot {path}: payload checksum does not match its header")
    return info, payload


def read_snapshot_info(path: Path) -> SnapshotInfo:
    """The header of the snapshot at `path`, after checking its payload; FileNotFoundError when there is none."""
    return _read(path)[0]


def load_snapshot(path: Path, *, policy: str, version: str) -> Policy:
    """The policy saved at `path`, which must be `policy` at `version` in this snapshot format.

    Raises FileNotFoundError (none), SnapshotMismatchError (another policy, version or format), SnapshotError
    (corrupt)."""
    return _load(path, policy=policy, version=version)[0]


def _load(path: Path, *, policy: str, version: str) -> tuple[Policy, SnapshotInfo]:
    info, payload = _read(path)
    if info.format != SNAPSHOT_FORMAT:
        raise SnapshotMismatchError(
            f"snapshot {path} is in snapshot format {info.format}; this engine reads format {SNAPSHOT_FORMAT}"
        )
    if (info.policy, info.version) != (policy, version):
        raise SnapshotMismatchError(
            f"snapshot {path} holds policy {info.policy} version {info.version}; the engine runs {policy} "
            f"version {version}"
        )
    try:
        loaded = pickle.loads(payload)
    except Exception as error:  # any unpickling failure means the state cannot be used
        raise SnapshotError(f"snapshot {path}: the saved policy does not load ({type(error).__name__}: {error})") from (
            error
        )
    if getattr(loaded, "name", None) != policy or getattr(loaded, "version", None) != version:
        raise SnapshotMismatchError(f"snapshot {path}: its payload is not policy {policy} version {version}")
    if not isinstance(loaded, Policy):
        raise SnapshotError(f"snapshot {path}: its payload is not a policy")
    return loaded, info


def move_aside(path: Path, reason: str, *, now_utc: datetime | None = None) -> Path:
    """Rename the snapshot to `<name>.<reason>-<utc stamp>` in the same folder; returns the new path."""
    target = path.with_name(f"{path.name}.{reason}-{_stamp(now_utc or datetime.now(UTC))}")
    path.replace(target)
    _fsync_folder(path.parent)
    return target


def reset_request_path(path: Path) -> Path:
    """Where an operator's reset request for the snapshot at `path` is left for a running engine."""
    return path.with_name(f"{path.name}.pending-reset")


def request_reset(path: Path, *, now_utc: datetime | None = None) -> Path:
    """Leave a reset request for a running engine (see the module docstring); returns its path."""
    request = reset_request_path(path)
    request.parent.mkdir(parents=True, exist_ok=True)
    request.write_text((now_utc or datetime.now(UTC)).astimezone(UTC).isoformat() + "\n")
    _fsync_folder(request.parent)
    return request


def remove_temporaries(path: Path) -> int:
    """Delete the temporary files of saves that never finished (a kill mid-write); returns how many."""
    removed = 0
    for temporary in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            temporary.unlink()
            removed += 1
        except OSError as error:
            log.warning("cannot remove the unfinished snapshot %s: %s", temporary, error)
    return removed


def restore_policy(fresh: Policy, path: Path, *, now_utc: datetime | None = None) -> Policy:
    """The policy saved at `path` if it is `fresh`'s policy and version, else `fresh`. Never raises: a snapshot
    that cannot be used is moved aside with a logged warning, and the engine starts with the fresh state."""
    try:
        loaded, info = _load(path, policy=fresh.name, version=fresh.version)
    except FileNotFoundError:
        log.info("no policy snapshot at %s: %s starts fresh", path, fresh.name)
        return fresh
    except SnapshotError as error:
        reason = "mismatch" if isinstance(error, SnapshotMismatchError) else "corrupt"
        try:
            moved: Path | str = move_aside(path, reason, now_utc=now_utc)
        except OSError as move_error:
            moved = f"(could not be moved aside: {move_error})"
        log.warning("%s; moved aside to %s, %s starts fresh", error, moved, fresh.name)
        return fresh
    except Exception as error:  # never let a snapshot stop the screen
        log.warning("policy snapshot %s could not be restored (%s); %s starts fresh", path, error, fresh.name)
        return fresh
    # Weights learned on another reward (`[decision] reward`, `learner_reward_scale_s`) predict in other units:
    # refused like another version, so the learner starts fresh on the new reward rather than mixing the two.
    changed = [name for name in LEARNED_UNDER if getattr(loaded, name, None) != getattr(fresh, name, None)]
    if changed:
        try:
            moved = move_aside(path, "mismatch", now_utc=now_utc)
        except OSError as move_error:
            moved = f"(could not be moved aside: {move_error})"
        described = ", ".join(f"{n} {getattr(loaded, n, None)} -> {getattr(fresh, n, None)}" for n in changed)
        log.warning("snapshot %s was learned under another reward (%s); moved aside to %s, %s starts fresh",
                    path, described, moved, fresh.name)  # fmt: skip
        return fresh
    # What was learned comes from the snapshot; how to choose and learn comes from today's config, so an operator's
    # change of a setting takes effect on restart (and a snapshot from before a setting existed still loads).
    for setting in getattr(fresh, "SETTINGS", ()):
        setattr(loaded, setting, getattr(fresh, setting))
    log.info("policy %s restored from %s (saved %s)", loaded.name, path, info.saved_utc)
    return loaded


class SnapshotSaver:
    """Saves the policy every `every_s` seconds of the engine's monotonic clock, and on demand (at finish).

    A failed save is logged and retried at the next interval; it never stops the engine."""

    def __init__(self, *, path: Path, every_s: float) -> None:
        if not every_s > 0:
            raise ValueError(f"every_s must be > 0, got {every_s}")
        self.path = path
        self.every_s = every_s
        self._last_mono: float | None = None
        self._next_reset_check: float | None = None
        self.saves = 0
        self.failures = 0
        removed = remove_temporaries(path)
        if removed:
            log.info("removed %d unfinished policy snapshot(s) beside %s", removed, path)

    def reset_requested(self, *, t_mono: float) -> bool:
        """Whether an operator asked for a reset (`signage policy reset`); looked at about once a second."""
        if self._next_reset_check is not None and t_mono < self._next_reset_check:
            return False
        self._next_reset_check = t_mono + 1.0
        return reset_request_path(self.path).exists()

    def reset(self, fresh: Policy) -> bool:
        """Save `fresh` in place of the learned state and clear the reset request; True when saved."""
        saved = self.save(fresh)
        if saved:
            reset_request_path(self.path).unlink(missing_ok=True)
        return saved

    def maybe_save(self, policy: Policy, *, t_mono: float, now_utc: datetime | None = None) -> bool:
        """Save when `every_s` has passed since the last save (or since the first call); True when it saved."""
        if self._last_mono is None:
            self._last_mono = t_mono
            return False
        if t_mono - self._last_mono < self.every_s:
            return False
        self._last_mono = t_mono
        return self.save(policy, now_utc=now_utc)

    def save(self, policy: Policy, *, now_utc: datetime | None = None) -> bool:
        """Save now; True on success, False (logged) on failure."""
        try:
            save_snapshot(policy, self.path, now_utc=now_utc)
        except Exception as error:  # disk full, read-only folder, an unpicklable policy: keep the screen running
            self.failures += 1
            log.warning("policy snapshot to %s failed: %s", self.path, error)
            return False
        self.saves += 1
        return True
