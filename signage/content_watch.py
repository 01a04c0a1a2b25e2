"""Hot reload of the content pool: notice a changed manifest or media file, apply what is good, keep what played.

`PoolWatcher.poll(now)` checks, at most every `interval_s`, the manifest's and every media file's modification time
and size (polling: no OS-specific watcher, works on any filesystem and in containers). On a change:

- a manifest that does not validate is rejected as a whole: the last good pool stays in use and the problem is
  logged once (one error line naming each problem) and reported in `PoolUpdate.error`, until the file changes again;
- a media file that is missing or cannot be decoded quarantines only its item: one warning line names the item,
  the file and the reason; the item comes back (one info line) when its file changes and decodes again;
- the player can also report a file it could not show (`quarantine(item_id, reason)`), with the same effect.

The pool handed out (`pool`) is the last good manifest minus the quarantined items. It is never empty: if every
item were quarantined, the previous pool is kept (the player shows title cards for broken files, never a blank).
`poll` reads files and decodes changed media: call it between frames every second or so, or from a worker thread
(it returns frozen values and holds no lock the player needs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from signage.content import ContentPool, PoolError, load_pool
from signage.player.media import probe_media
from signage.types import ContentItem

__all__ = ["PoolUpdate", "PoolWatcher", "probe_item"]

log = logging.getLogger("signage.content")

Signature = tuple[int, int] | None  # (mtime_ns, size), None when the file is missing
Probe = Callable[[ContentItem], str | None]


def probe_item(item: ContentItem) -> str | None:
    """None if the item's file can be shown, else why not (missing, corrupt, no frame)."""
    if not item.path:
        return None
    return probe_media(item.path, item.kind)


def _signature(path: Path | str) -> Signature:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@dataclass(frozen=True)
class PoolUpdate:
    """The pool to use from now on, what is quarantined and why, and the newest manifest's error if it was
    rejected (the pool is then the last good one)."""

    pool: ContentPool
    quarantined: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "quarantined", MappingProxyType(dict(self.quarantined)))


class PoolWatcher:
    """Watches one manifest and its media files; see the module doc. Raises PoolError at construction when the
    manifest is invalid (there is no last good pool to fall back on yet)."""

    def __init__(self, manifest: Path, *, interval_s: float = 1.0, probe: Probe = probe_item) -> None:
        if interval_s < 0:
            raise ValueError(f"interval_s must be >= 0, got {interval_s}")
        self._manifest = Path(manifest)
        self._interval_s = interval_s
        self._probe = probe
        self._next_check = float("-inf")
        self._manifest_signature = _signature(self._manifest)
        self._base = load_pool(self._manifest, check_files=False)
        self._file_signatures: dict[str, Signature] = {}
        self._quarantined: dict[str, str] = {}
        self._error: str | None = None
        self._all_quarantined = False
        self._check_files()
        self._pool = self._effective(previous=None)

    @property
    def pool(self) -> ContentPool:
        return self._pool

    @property
    def quarantined(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self._quarantined))

    @property
    def error(self) -> str | None:
        return self._error

    def update(self) -> PoolUpdate:
        return PoolUpdate(pool=self._pool, quarantined=self._quarantined, error=self._error)

    def poll(self, now: float) -> PoolUpdate | None:
        """Check for changes if `interval_s` has passed since the last check; an update when anything changed."""
        if now < self._next_check:
            return None
        self._next_check = now + self._interval_s
        before = (self._pool, dict(self._quarantined), self._error)
        signature = _signature(self._manifest)
        if signature != self._manifest_signature:
            self._manifest_signature = signature
            self._reload_manifest()
        self._check_files()
        self._pool = self._effective(previous=self._pool)
        if (self._pool, self._quarantined, self._error) == before:
            return None
        return self.update()

    def quarantine(self, item_id: str, reason: str) -> PoolUpdate | None:
        """Take an item out of the pool because the player could not show its file; it returns when the file
        changes and decodes. None if it was already quarantined or is unknown."""
        if item_id in self._quarantined or item_id not in self._base.ids:
            return None
        self._quarantined[item_id] = reason
        log.warning("content: item %s quarantined: %s", item_id, reason)
        self._pool = self._effective(previous=self._pool)
        return self.update()

    # --- internals ---------------------------------------------------------------------------------------------

    def _reload_manifest(self) -> None:
        try:
            pool = load_pool(self._manifest, check_files=False)
        except PoolError as exc:
            message = f"{exc.source}: " + "; ".join(exc.problems)
            if message != self._error:
                log.error(
                    "content: pool not reloaded, keeping the last good one (%d items): %s", len(self._base), message
                )
            self._error = message
            return
        old_ids, new_ids = set(self._base.ids), set(pool.ids)
        changed = {item.item_id for item in pool if item.item_id in old_ids and item != self._base.item(item.item_id)}
        log.info(
            "content: pool reloaded from %s: %d items (added %s, removed %s, changed %s)",
            self._manifest,
            len(pool),
            sorted(new_ids - old_ids) or "none",
            sorted(old_ids - new_ids) or "none",
            sorted(changed) or "none",
        )
        for item_id in (old_ids - new_ids) | changed:  # forget them: a changed item is probed afresh
            self._file_signatures.pop(item_id, None)
            self._quarantined.pop(item_id, None)
        self._base = pool
        self._error = None

    def _check_files(self) -> None:
        for item in self._base:
            if not item.path:
                continue
            signature = _signature(item.path)
            if item.item_id in self._file_signatures and self._file_signatures[item.item_id] == signature:
                continue
            self._file_signatures[item.item_id] = signature
            reason = self._probe(item)
            was = self._quarantined.get(item.item_id)
            if reason is not None and was != reason:
                self._quarantined[item.item_id] = reason
                log.warning("content: item %s quarantined: %s", item.item_id, reason)
            elif reason is None and was is not None:
                del self._quarantined[item.item_id]
                log.info("content: item %s is back: %s decodes again", item.item_id, item.path)

    def _effective(self, previous: ContentPool | None) -> ContentPool:
        items = tuple(item for item in self._base if item.item_id not in self._quarantined)
        if not items:
            if previous is None:
                raise PoolError(self._manifest, ["every item is quarantined: " + "; ".join(self._quarantined.values())])
            if not self._all_quarantined:
                log.error("content: every item is quarantined; keeping the previous pool")
            self._all_quarantined = True
            return previous
        self._all_quarantined = False
        pool = ContentPool(base_dir=self._base.base_dir, items=items, item_rules=self._base.item_rules)
        return previous if previous is not None and previous == pool else pool
