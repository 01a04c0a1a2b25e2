"""Globally unique, time-ordered ids (UUID version 7 layout).

The first 48 bits are Unix milliseconds, the rest random: rows created on different screens never collide, and a
row sent twice to the central database carries the same id, so the second copy is recognised and ignored.
"""

from __future__ import annotations

import random
import time
import uuid


def new_id(unix_ms: int | None = None) -> str:
    """Return a new UUIDv7 string; ids created in later milliseconds sort after earlier ones."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"unix_ms out of range for a UUIDv7: {ms}")
    # Ids must be unique, not unpredictable: Python's generator (seeded from the OS at start, reseeded in a forked
    # child) gives 74 bits per millisecond without a system call per row, which on a busy engine hands the GIL to
    # the store's writer thread at every id.
    rand = random.getrandbits(74)
    rand_a = rand >> 62  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def id_unix_ms(id_: str) -> int:
    """The creation time (Unix milliseconds) carried in an id made by `new_id`."""
    parsed = uuid.UUID(id_)
    if parsed.version != 7:
        raise ValueError(f"not a UUIDv7 id: {id_!r}")
    return parsed.int >> 80
