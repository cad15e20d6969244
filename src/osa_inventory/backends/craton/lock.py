"""The store lock: a cell named ``osa-inventory-lock`` in the inventory's region.

Craton has no locks, but names are unique within their parent: creating the
cell succeeds for exactly one client and answers 409 to the others, whatever
deploy host they run on. The cell's variables hold the holder record. A holder
whose ``expires`` has passed, or whose process is gone from this host, is
taken over by the front end; a writer renews ``expires`` while it works.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from osa_inventory.backends.craton.client import CratonError
from osa_inventory.backends.craton.places import LOCK_CELL, Places
from osa_inventory.errors import LockTimeout, StoreError
from osa_inventory.store.backend import LockHolder
from osa_inventory.store.filelock import pid_alive

HOLDER_VAR = "holder"
DEFAULT_TTL = 300.0
#: a writer checks that it still holds the lock this often (seconds)
CHECK_EVERY = 5.0


class CellLock:
    def __init__(self, places: Places, scrub: Any = str) -> None:
        self.places = places
        self.scrub = scrub  # removes secrets from a holder's command line
        self.held: LockHolder | None = None
        self._ttl = DEFAULT_TTL
        self._renewed = self._checked = 0.0

    def _record(self, holder: LockHolder) -> dict[str, Any]:
        data = holder.to_dict()
        data["command"] = self.scrub(data.get("command") or "")
        return {HOLDER_VAR: data}

    def _current(self) -> tuple[int | None, LockHolder | None]:
        cell_id, variables = self.places.cell(LOCK_CELL)
        if cell_id is None:
            return None, None
        data = variables.get(HOLDER_VAR)
        if not isinstance(data, dict):  # being created, or written by hand
            return cell_id, LockHolder("unknown", "unknown", "unknown", 0, 0.0)
        try:
            return cell_id, LockHolder.from_dict(data)
        except TypeError:
            return cell_id, LockHolder("unknown", "unknown", "unknown", 0, 0.0)

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        place = self.places.ensure()
        body = {
            "name": LOCK_CELL,
            "region_id": place.region_id,
            "cloud_id": place.cloud_id,
            "variables": self._record(holder),
        }
        for _ in range(3):
            try:
                self.places.client.post("/cells", body, accept=(409,))
            except CratonError:
                _, current = self._current()
                if current is None:
                    continue  # released in between: try again
                return current
            self.held = holder
            self._ttl = holder.expires - holder.since if holder.expires else DEFAULT_TTL
            self._renewed = self._checked = time.monotonic()
            return None
        _, current = self._current()
        return current

    def release(self, holder: LockHolder) -> None:
        if self.held is not None and self.held.lock_id == holder.lock_id:
            self.held = None
        cell_id, current = self._current()
        if cell_id is not None and current is not None and current.lock_id == holder.lock_id:
            self.places.client.delete(f"/cells/{cell_id}")

    def status(self) -> LockHolder | None:
        if self.places.place is None:
            place, _ = self.places.region_variables()
            if place is None:
                return None
        return self._current()[1]

    def break_(self, lock_id: str) -> None:
        if self.places.place is None:
            self.places.region_variables()
        cell_id, current = self._current()
        if cell_id is None or current is None:
            raise StoreError(f"craton {self.places.describe()}: not locked; nothing to break")
        if current.lock_id != lock_id:
            raise StoreError(
                f"craton {self.places.describe()}: the lock is held by {current.describe()}, "
                f"not lock id {lock_id}; see 'osa-inventory lock status'"
            )
        self.places.client.delete(f"/cells/{cell_id}")

    @contextlib.contextmanager
    def for_write(self, timeout: float) -> Iterator[None]:
        """Hold the lock for a write made without the front end (which takes it first)."""
        if self.held is not None:
            yield
            return
        holder = LockHolder.for_this_process(ttl=DEFAULT_TTL)
        deadline = time.monotonic() + timeout
        while (current := self.acquire(holder)) is not None:
            if abandoned(current):
                with contextlib.suppress(StoreError):
                    self.break_(current.lock_id)
                continue
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"craton {self.places.describe()} is locked by {current.describe()}; retry "
                    f"later, or if that process is gone run 'osa-inventory lock break "
                    f"{current.lock_id}'"
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            with contextlib.suppress(StoreError):
                self.release(holder)

    def renew(self, force: bool = False) -> None:
        """Check that the lock is still ours (every few seconds) and push its expiry on.

        Raises LockTimeout when it was broken: the writer stops, and whoever
        holds the lock now completes the interrupted write.
        """
        holder = self.held
        if holder is None or holder.expires is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < min(CHECK_EVERY, self._ttl / 4):
            return
        cell_id, current = self._current()
        if cell_id is None or current is None or current.lock_id != holder.lock_id:
            self.held = None
            who = current.describe() if current is not None else "nobody"
            raise LockTimeout(
                f"craton {self.places.describe()}: lost the store lock during the write (now "
                f"held by {who}); this write stopped and was not recorded, and the next "
                "writer completes or replaces it. Rerun the command"
            )
        self._checked = now
        if now - self._renewed >= self._ttl / 4:
            renewed = replace(holder, expires=time.time() + self._ttl)
            self.places.client.put(f"/cells/{cell_id}/variables", self._record(renewed))
            self.held = renewed
            self._renewed = now


def abandoned(holder: LockHolder) -> bool:
    """A holder whose expiry has passed, or whose process on this host is gone."""
    if holder.expires is not None and holder.expires < time.time():
        return True
    return holder.host == os.uname().nodename and holder.pid > 0 and not pid_alive(holder.pid)
