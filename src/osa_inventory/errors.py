"""The one exception tree of osa-inventory.

Every error the project raises on purpose derives from :class:`OsaInventoryError`;
the command line prints its message on one line and exits non-zero, without a
traceback. Backends translate their client library's errors into these at the
edge (``raise StoreError(...) from exc``)::

    OsaInventoryError
    ├── ConfigError              bad user config, env.d, osa.ini or flags
    │   └── YamlError            a YAML file that does not parse
    ├── GenerationError          the config cannot produce an inventory
    │   └── AddressPoolExhausted no free address left in a cidr_networks pool
    └── StoreError               a store cannot be read or written
        ├── StoreUnavailable     backend unreachable or its dependency missing
        ├── StoreMissing         no store there yet, and a reader may not create one
        ├── StoreCorrupt         the stored data does not parse
        │   └── HistoryCorrupt   only the history is damaged; the inventory is intact
        ├── VersionUnreadable    a kept version that cannot be rebuilt (left as it is)
        ├── LockTimeout          another writer holds the lock
        └── StaleWrite           the store moved on since it was read
"""

from __future__ import annotations


class OsaInventoryError(Exception):
    """Base class of every error osa-inventory raises on purpose."""

    exit_code = 1


class ConfigError(OsaInventoryError):
    """The user configuration, env.d, osa.ini or a flag is wrong."""

    exit_code = 2


class YamlError(ConfigError):
    """A YAML file does not parse."""


class GenerationError(OsaInventoryError):
    """The configuration is readable but cannot produce an inventory."""

    exit_code = 2


class AddressPoolExhausted(GenerationError):
    """A ``cidr_networks`` pool has no free address left."""


class StoreError(OsaInventoryError):
    """A store cannot be read or written."""

    exit_code = 3


class StoreUnavailable(StoreError):
    """The backend cannot be reached or its dependency is missing."""


class StoreMissing(StoreError):
    """There is no store yet (no database file or schema), and this reader may not create it."""


class StoreCorrupt(StoreError):
    """The stored inventory does not parse."""


class HistoryCorrupt(StoreCorrupt):
    """The store's history is damaged, but its current inventory can still be read.

    Readers serve the inventory (with a warning); writers refuse.
    """


class VersionUnreadable(StoreError):
    """A kept version whose content cannot be rebuilt, for a reason recorded when it was
    made (Craton: a later version adopted changes made outside osa-inventory).

    ``rekey`` leaves such versions as they are and says so.
    """


class LockTimeout(StoreError):
    """Another writer holds the store lock."""


class StaleWrite(StoreError):
    """The store moved on since the inventory was read."""
