"""The store lock: a cell named ``osa-inventory-lock`` in the inventory's region.

Craton has no locks, but names are unique within their parent: creating the
cell succeeds for exactly one client and answers 409 to the others, whatever
deploy host they run on. The cell's variables hold the holder record.

Whether a holder is alive is never judged by comparing two hosts' clocks.
While it holds the lock, the holder's own thread bumps the cell's variable
``beat`` (a counter, no time) every :data:`BEAT_EVERY` seconds. A waiter
notes, on its own monotonic clock, when it last saw the beat move: a holder
whose beat stood still for :data:`STALE_AFTER` seconds of watching is gone,
and so is a holder on this host whose process is gone. Any other holder is
alive: the waiter waits, up to its lock timeout, and then names
``osa-inventory lock break ID``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from osa_inventory.backends.craton.client import CratonClient, CratonError
from osa_inventory.backends.craton.places import LOCK_CELL, Places
from osa_inventory.errors import LockTimeout, StoreError
from osa_inventory.store.backend import LockHolder

HOLDER_VAR = "holder"
BEAT_VAR = "beat"
#: a holder bumps its beat this often (seconds)
BEAT_EVERY = 5.0
#: a beat that did not move for this long (seconds, by the waiter's own watch) is a dead holder
STALE_AFTER = 30.0
#: a writer checks that it still holds the lock this often (seconds)
CHECK_EVERY = 5.0


class Heartbeat:
    """The holder's thread that bumps the lock cell's beat while the lock is held.

    It has a client (an HTTP session) of its own, and stops when told to, or
    when the cell is gone or names another holder (``lost``).
    """

    def __init__(self, client: CratonClient, cell_id: int, lock_id: str) -> None:
        self.client = CratonClient(client.config)
        self.path = f"/cells/{cell_id}/variables"
        self.lock_id = lock_id
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="craton-lock-beat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        count = 0
        try:
            while not self._stop.wait(BEAT_EVERY):
                count += 1
                try:
                    if not self._beat(count):
                        self.lost = True
                        return
                except Exception:  # Craton unreachable for now: the next beat tries again
                    continue
        finally:
            self.client.close()

    def _beat(self, count: int) -> bool:
        """Bump the beat if the cell still names this holder; False when it does not."""
        try:  # a cell's variables are its own (Craton resolves only a host's)
            answer = self.client.request("GET", self.path, accept=(404,))
        except CratonError as exc:
            if exc.status == 404:  # released, or broken
                return False
            raise
        holder = ((answer or {}).get("variables") or {}).get(HOLDER_VAR)
        if not isinstance(holder, dict) or holder.get("lock_id") != self.lock_id:
            return False
        if self._stop.is_set():
            return True
        self.client.put(self.path, {BEAT_VAR: {"lock_id": self.lock_id, "count": count}})
        return True


class CellLock:
    def __init__(self, places: Places, warn: Callable[[str], None] | None = None) -> None:
        self.places = places
        self.warn = warn or (lambda message: None)
        self.held: LockHolder | None = None
        self._heartbeat: Heartbeat | None = None
        self._checked = 0.0
        #: the current holder's lock id -> (its beat as last seen, when it was first seen
        #: so on this host's monotonic clock, whether it moved while watched)
        self._watched: dict[str, tuple[Any, float, bool]] = {}

    @staticmethod
    def _record(holder: LockHolder) -> dict[str, Any]:
        from osa_inventory.redact import redact_text

        data = holder.to_dict()
        data["command"] = redact_text(data.get("command") or "")
        return {HOLDER_VAR: data}

    def _current(self) -> tuple[int | None, LockHolder | None]:
        cell_id, variables = self.places.cell(LOCK_CELL)
        if cell_id is None:
            return None, None
        data = variables.get(HOLDER_VAR)
        try:
            holder = LockHolder.from_dict(data) if isinstance(data, dict) else None
        except TypeError:
            holder = None
        if holder is None:  # being created, or written by hand: named by its cell
            holder = LockHolder.unknown(f"cell-{cell_id}")
        self._watch(holder, variables.get(BEAT_VAR))
        return cell_id, holder

    def _watch(self, holder: LockHolder, beat: Any) -> None:
        """Note the beat of ``holder`` as seen now (only the current holder is watched)."""
        if not (isinstance(beat, dict) and beat.get("lock_id") == holder.lock_id):
            beat = None  # none yet, or a beat another holder left
        seen = self._watched.get(holder.lock_id)
        if seen is None:
            self._watched = {holder.lock_id: (beat, time.monotonic(), False)}
        elif seen[0] != beat:
            self._watched[holder.lock_id] = (beat, time.monotonic(), True)

    def holder_alive(self, holder: LockHolder) -> bool | None:
        """False for a holder gone from this host or whose beat stood still for
        STALE_AFTER seconds of watching; True when its beat moved; None while unsure."""
        if holder.gone_from_this_host():
            return False
        seen = self._watched.get(holder.lock_id)
        if seen is None:
            return None
        if time.monotonic() - seen[1] >= STALE_AFTER:
            return False
        return True if seen[2] else None

    def gone(self, holder: LockHolder) -> bool:
        return self.holder_alive(holder) is False

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
                created = self.places.client.post("/cells", body, accept=(409,))
            except CratonError:
                _, current = self._current()
                if current is None:
                    continue  # released in between: try again
                return current
            self.held = holder
            self._checked = time.monotonic()
            self._stop_beating()
            self._heartbeat = Heartbeat(self.places.client, int(created["id"]), holder.lock_id)
            return None
        _, current = self._current()
        return current

    def _stop_beating(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def release(self, holder: LockHolder) -> None:
        if self.held is not None and self.held.lock_id == holder.lock_id:
            self.held = None
            self._stop_beating()
        cell_id, current = self._current()
        if cell_id is not None and current is not None and current.lock_id == holder.lock_id:
            self.places.client.delete(f"/cells/{cell_id}")

    def close(self) -> None:
        self._stop_beating()

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
        holder = LockHolder.for_this_process()
        deadline = time.monotonic() + timeout
        while (current := self.acquire(holder)) is not None:
            if self.gone(current):
                with contextlib.suppress(StoreError):
                    self.break_(current.lock_id)
                    self.warn(f"breaking abandoned lock held by {current.describe()}")
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

    def renew(self) -> None:
        """Check that the lock is still ours: by its heartbeat, and by reading it when
        CHECK_EVERY seconds passed since the last check (or since it was taken).

        Raises LockTimeout when it was broken: the writer stops, and whoever
        holds the lock now completes the interrupted write.
        """
        holder = self.held
        if holder is None:
            return
        now = time.monotonic()
        lost = self._heartbeat is not None and self._heartbeat.lost
        if not lost and now - self._checked < CHECK_EVERY:
            return
        cell_id, current = self._current()
        if lost or cell_id is None or current is None or current.lock_id != holder.lock_id:
            self.held = None
            self._stop_beating()
            who = current.describe() if current is not None else "nobody"
            raise LockTimeout(
                f"craton {self.places.describe()}: lost the store lock during the write (now "
                f"held by {who}); this write stopped and was not recorded, and the next "
                "writer completes or replaces it. Rerun the command"
            )
        self._checked = now
