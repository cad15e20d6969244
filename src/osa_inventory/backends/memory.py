"""``memory``: the reference backend, with every capability, kept in the process.

Stores are shared by name within one process, so two instances registered with
the same ``name`` see the same data: enough for tests and as a model for
plugin authors. Nothing survives the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from osa_inventory.errors import StaleWrite, StoreError
from osa_inventory.inventory import empty_inventory
from osa_inventory.store.backend import (
    Backend,
    LockHolder,
    Option,
    Retention,
    VersionInfo,
    WriteMeta,
    fingerprint_extra,
    new_lineage,
)


@dataclass
class _Space:
    lineage: str = field(default_factory=new_lineage)
    versions: list[tuple[VersionInfo, str]] = field(default_factory=list)
    holder: LockHolder | None = None
    guard: threading.Lock = field(default_factory=threading.Lock)


class MemoryBackend(Backend):
    name = "memory"
    options: ClassVar[dict[str, Option]] = {
        "name": Option(str, "default", "inventory name; instances with one name share data"),
        "retention": Option(int, 0, "versions kept (0: all)"),
    }
    shared_between_processes = False
    _spaces: ClassVar[dict[str, _Space]] = {}
    _spaces_guard: ClassVar[threading.Lock] = threading.Lock()

    def configure(self) -> None:
        with self._spaces_guard:
            self.space = self._spaces.setdefault(self.config["name"], _Space())

    @classmethod
    def reset(cls, name: str | None = None) -> None:
        """Forget one named store (or all): for tests."""
        with cls._spaces_guard:
            if name is None:
                cls._spaces.clear()
            else:
                cls._spaces.pop(name, None)

    def describe(self) -> str:
        return f"memory:{self.config['name']}"

    def retention(self) -> Retention:
        keep = int(self.config["retention"])
        return Retention("retention", keep, keep)

    # -- the three methods --

    def load(self) -> dict[str, Any]:
        head = self.head()
        return self.read_version(head.version) if head else empty_inventory()

    def write(self, inventory: dict[str, Any]) -> None:
        self.write_version(inventory, WriteMeta.for_this_process(), self.head())

    # -- versions --

    def head(self) -> VersionInfo | None:
        with self.space.guard:
            return self.space.versions[-1][0] if self.space.versions else None

    def list_versions(self) -> list[VersionInfo]:
        with self.space.guard:
            return [info for info, _ in self.space.versions]

    def read_version(self, version: int) -> dict[str, Any]:
        with self.space.guard:
            for info, data in self.space.versions:
                if info.version == version:
                    return json.loads(data)
        raise StoreError(f"memory store has no version {version}")

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        data = json.dumps(inventory)
        with self.space.guard:
            current = self.space.versions[-1][0] if self.space.versions else None
            if current != expected:
                raise StaleWrite("memory store moved on since it was read; rerun the command")
            info = meta.new_version(
                (current.version + 1) if current else (meta.first_version or 1), self.space.lineage
            )
            self.space.versions.append((info, data))
            keep = self.config["retention"]
            if keep and len(self.space.versions) > keep:
                del self.space.versions[:-keep]
            return info

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        with self.space.guard:
            for index, (info, data) in enumerate(self.space.versions):
                if info.version == version.version:
                    kept = {
                        k: v for k, v in info.extra.items() if k not in ("fingerprint", "warnings")
                    }
                    extra = {**kept, **fingerprint_extra(fingerprint, warnings)}
                    self.space.versions[index] = (replace(info, extra=extra), data)

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        new = {number: json.dumps(inventory) for number, inventory in contents}
        with self.space.guard:
            if sorted(new) != [info.version for info, _ in self.space.versions]:
                raise StaleWrite("memory store: the versions changed during the rewrite; rerun")
            self.space.versions = [(info, new[info.version]) for info, _ in self.space.versions]

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        changed = []
        with self.space.guard:
            for index, (info, data) in enumerate(self.space.versions):
                command, message = redact(info.command), redact(info.message)
                if (command, message) != (info.command, info.message):
                    self.space.versions[index] = (
                        replace(info, command=command, message=message),
                        data,
                    )
                    changed.append(info.version)
        return changed

    # -- lock --

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        with self.space.guard:
            current = self.space.holder
            if current is not None and current.lock_id != holder.lock_id:
                return current
            self.space.holder = holder
            return None

    def release_lock(self, holder: LockHolder) -> None:
        with self.space.guard:
            if self.space.holder and self.space.holder.lock_id == holder.lock_id:
                self.space.holder = None

    def lock_status(self) -> LockHolder | None:
        with self.space.guard:
            return self.space.holder

    def break_lock(self, lock_id: str) -> None:
        with self.space.guard:
            if self.space.holder is None or self.space.holder.lock_id != lock_id:
                raise StoreError(f"lock {lock_id} is not held")
            self.space.holder = None
