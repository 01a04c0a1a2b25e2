"""The local store: one SQLite file, written by one thread, read by reports and the uplink."""

from signage.store.recovery import Recovery
from signage.store.schema import migrate, open_database
from signage.store.writer import StoreHealth, StoreWriter

__all__ = ["Recovery", "StoreHealth", "StoreWriter", "migrate", "open_database"]
