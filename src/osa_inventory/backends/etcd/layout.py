"""Where things live in etcd, below ``<prefix>/<name>/``.

::

    head                   the current version: info, tree root (JSON); the CAS target
    lock                   the writers' lock, bound to a lease; the holder in its value
    versions/<%012d>       one record per retained version: info and tree root (JSON)
    chunks/<sha256>        a manifest chunk: entry name -> object ref (JSON)
    objects/<sha256>       one value: a host's vars, a group, all.vars (JSON)

Objects and chunks are content-addressed and immutable: a write adds the ones
it needs and never changes an existing key, so readers are never disturbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from osa_inventory.errors import ConfigError

VERSION_DIGITS = 12
#: folders below a store's root that it scans and garbage-collects: no store may live there
SCANNED = ("versions", "chunks", "objects")


@dataclass(frozen=True)
class Layout:
    prefix: str
    name: str

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/"):
            raise ConfigError(
                f"backend etcd: prefix {self.prefix!r} must start with '/', e.g. /osa-inventory"
            )
        words = [part for part in self.prefix.split("/") if part] + [self.name]
        taken = next((word for word in words if word in SCANNED), None)
        if taken is not None:
            raise ConfigError(
                f"backend etcd: {taken!r} (in prefix {self.prefix!r} or name {self.name!r}) is "
                "a folder every store keeps below its prefix and cleans up, so this store would "
                "share its keys with another's; choose another prefix or inventory name"
            )

    @property
    def root(self) -> bytes:
        base = self.prefix.rstrip("/")
        return f"{base}/{quote(self.name, safe='')}/".encode()

    @property
    def head(self) -> bytes:
        return self.root + b"head"

    @property
    def lock(self) -> bytes:
        return self.root + b"lock"

    @property
    def versions(self) -> bytes:
        return self.root + b"versions/"

    @property
    def chunks(self) -> bytes:
        return self.root + b"chunks/"

    @property
    def objects(self) -> bytes:
        return self.root + b"objects/"

    def version(self, number: int) -> bytes:
        return self.versions + f"{number:0{VERSION_DIGITS}d}".encode()

    def version_number(self, key: bytes) -> int | None:
        tail = key[len(self.versions) :]
        return int(tail) if tail.isdigit() else None

    def chunk(self, sha: str) -> bytes:
        return self.chunks + sha.encode()

    def object(self, sha: str) -> bytes:
        return self.objects + sha.encode()

    def sha_of(self, key: bytes) -> str:
        """The digest at the end of a chunk or object key."""
        return key.rsplit(b"/", 1)[-1].decode()

    def describe(self) -> str:
        return self.root.decode().rstrip("/")
