"""``osa-inventory rekey``: seal every kept version with the current key, or open them all.

Under the store lock, every retained version is read (opened with any configured
key, or as it is when plain), then written back sealed with the first key of
the key file (``decrypt``: plain). A backend that can replace its versions'
contents in place (:class:`~osa_inventory.store.backend.ContentRewriter`: file,
SQL, etcd, Craton, memory) has its whole history rewritten, numbers, times and
authors kept (the versions it cannot read, like Craton's versions before one that
adopted outside changes, stay as they were: the report lists them);
any other gets the current inventory written as a new version in the new form,
its older versions staying as they were until its retention drops them (the
report says how many). Every version is read back and compared afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from osa_inventory.errors import ConfigError, StoreError, VersionUnreadable
from osa_inventory.inventory import empty_inventory
from osa_inventory.sealing import HOW_TO_CONFIGURE, Sealing
from osa_inventory.store.backend import ContentRewriter, WriteMeta
from osa_inventory.store.store import Store


@dataclass
class RekeyReport:
    store: str
    sealed: bool  # the store is now sealed (False: plain)
    key_id: str | None
    rewritten: list[int] = field(default_factory=list)  # versions rewritten in place
    written: int | None = None  # a new version written instead
    left: list[int] = field(default_factory=list)  # older versions left in their old form

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "encrypted": self.sealed,
            "key_id": self.key_id,
            "rewritten_versions": self.rewritten,
            "new_version": self.written,
            "versions_left_as_they_were": self.left,
        }


def rekey(store: Store, *, decrypt: bool = False, command: str | None = None) -> RekeyReport:
    """Seal (or with ``decrypt`` open) every retained version of ``store``; see above."""
    if not decrypt and not store.sealing.on:
        raise ConfigError(f"rekey needs an encryption key to seal with; {HOW_TO_CONFIGURE}")
    target = Sealing(None, store.sealing.context) if decrypt else store.sealing
    keys = store.sealing.keys
    report = RekeyReport(store.label, not decrypt, None if decrypt or not keys else keys.write_id)
    with store.locked():
        current = store.read()
        if current.inventory == empty_inventory() and current.version is None:
            raise ConfigError(f"store {store.label} holds no inventory; nothing to rekey")
        rewriter = store.capability(ContentRewriter)
        if store.versioned and rewriter is not None:
            contents, report.left = _readable_versions(store)
            with store.converting(target):
                rewriter.rewrite_contents([(n, target.cover(c)) for n, c in contents])
            report.rewritten = [n for n, _ in contents]
            _verify(store, contents)
        else:
            older = [i.version for i in store.history()] if store.versioned else []
            why = "rekey: decrypted" if decrypt else "rekey: encrypted with the current key"
            meta = WriteMeta.for_this_process(message=why, command=command)
            with store.converting(target):
                result = store.overwrite(current.inventory, meta)
            report.written = result.version.version if result.version else None
            report.left = older
    return report


def _readable_versions(store: Store) -> tuple[list[tuple[int, dict[str, Any]]], list[int]]:
    """(number, content) of every kept version that can be read, and the numbers of those
    that cannot (:class:`VersionUnreadable`: they stay as they are)."""
    contents, unreadable = [], []
    for info in store.history():
        try:
            contents.append((info.version, store.read_version(info.version)))
        except VersionUnreadable:
            unreadable.append(info.version)
    return contents, unreadable


def _verify(store: Store, contents: list[tuple[int, dict[str, Any]]]) -> None:
    for number, content in contents:
        if store.read_version(number) != content:
            raise StoreError(
                f"rekey: version {number} of {store.label} does not read back as it was; "
                "check the backend, then rerun 'osa-inventory rekey'"
            )
