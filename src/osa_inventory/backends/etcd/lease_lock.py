"""The store lock: one key bound to an etcd lease, the holder's details in its value.

Taking the lock creates the key in a transaction that succeeds only if it is
absent. While the lock is held a daemon thread refreshes the lease every third
of its TTL; when the holder dies (even by ``kill -9``) nobody refreshes it and
etcd deletes the key after at most one TTL. So a holder the lock reports is
alive: no clock decides it, and only ``lock break`` (which revokes the lease)
takes the lock from a live holder.
A write made under the lock also compares the key's create revision in its
final transaction, so a holder whose lease ran out can never commit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from osa_inventory.backends.etcd.kv import KeyValue, compare_revision, delete_op, put_op, range_op
from osa_inventory.errors import StoreError
from osa_inventory.store.backend import LockHolder

if TYPE_CHECKING:
    from osa_inventory.backends.etcd.client import EtcdClient

# Problems here are logged, not shown: a lock lost for good makes the write fail clearly.
LOG = logging.getLogger(__name__)


class _KeepAlive(threading.Thread):
    """Refreshes one lease until stopped or gone."""

    def __init__(self, client: EtcdClient, lease: int, interval: float) -> None:
        super().__init__(name=f"etcd-lease-{lease:x}", daemon=True)
        self.client = client
        self.lease = lease
        self.interval = interval
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                if self.client.keepalive(self.lease) <= 0:
                    LOG.info("etcd lock lease %x expired while held", self.lease)
                    break
            except StoreError as exc:  # try again at the next tick
                LOG.info("cannot refresh etcd lock lease %x: %s", self.lease, exc)
        self.client.close()

    def stop(self) -> None:
        self._halt.set()
        if self is not threading.current_thread():
            self.join(timeout=2)


@dataclass
class _Held:
    holder: LockHolder
    lease: int
    create_revision: int
    keepalive: _KeepAlive


class LeaseLock:
    """An exclusive lock on ``key`` held through a lease of ``ttl`` seconds."""

    def __init__(self, client: EtcdClient, key: bytes, ttl: int) -> None:
        self.client = client
        self.key = key
        self.ttl = ttl
        self._held: _Held | None = None

    @property
    def held(self) -> _Held | None:
        return self._held

    def compare(self) -> list[dict[str, Any]]:
        """Transaction compares that hold only while this process has the lock."""
        if self._held is None:
            return []
        return [compare_revision(self.key, "CREATE", self._held.create_revision)]

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock; None on success, else the current holder."""
        if self._held is not None and self._held.holder.lock_id == holder.lock_id:
            return None
        for _ in range(5):
            _, current = self.client.get(self.key)
            if current is not None:
                return self._holder_of(current)
            lease = self.client.grant(self.ttl)
            value = json.dumps({**holder.to_dict(), "lease": lease}).encode()
            try:
                result = self.client.txn(
                    [compare_revision(self.key, "CREATE", 0)],
                    [put_op(self.key, value, lease)],
                    [range_op(self.key)],
                )
            except StoreError:
                self._revoke_quietly(lease)
                raise
            if result.succeeded:
                self._hold(holder, lease, result.revision)
                return None
            found = result.ranges()[0]
            if found and self._holder_of(found[0]).lock_id == holder.lock_id:
                # an earlier attempt of this very request went through
                self._revoke_quietly(lease)
                self._hold(holder, found[0].lease, found[0].create_revision)
                return None
            self._revoke_quietly(lease)
            if found:
                return self._holder_of(found[0])
        raise StoreError(f"etcd lock {self.key.decode()} keeps changing hands; retry")

    def _hold(self, holder: LockHolder, lease: int, create_revision: int) -> None:
        interval = max(self.ttl / 3, 0.5)
        client = self.client.clone(timeout=min(self.client.config.timeout, interval))
        keepalive = _KeepAlive(client, lease, interval)
        keepalive.start()
        self._held = _Held(holder, lease, create_revision, keepalive)

    def release(self, holder: LockHolder) -> None:
        held = self._held
        if held is None or held.holder.lock_id != holder.lock_id:
            return
        self._held = None
        held.keepalive.stop()
        try:
            self.client.revoke(held.lease)
        except StoreError as exc:  # the lease runs out by itself within one TTL
            LOG.info("cannot release etcd lock (lease %x): %s", held.lease, exc)

    def status(self) -> LockHolder | None:
        _, current = self.client.get(self.key)
        if current is None:
            return None
        holder = self._holder_of(current)
        if current.lease:
            ttl = self.client.time_to_live(current.lease)
            if ttl >= 0:  # what etcd says is left of the lease, which its holder keeps alive
                holder = replace(holder, expires=time.time() + ttl)
        return holder

    @staticmethod
    def holder_alive(holder: LockHolder) -> bool:
        """The key exists, so its lease is alive; but a holder on this host whose process
        is gone left a lease that only runs out within one TTL: that one is gone."""
        return not holder.gone_from_this_host()

    def break_(self, lock_id: str) -> None:
        _, current = self.client.get(self.key)
        if current is None:
            raise StoreError(f"lock {lock_id} is not held: the store is not locked")
        holder = self._holder_of(current)
        if holder.lock_id != lock_id:
            raise StoreError(
                f"lock {lock_id} is not held; the lock is now {holder.lock_id}, "
                f"held by {holder.describe()}"
            )
        if self._held is not None and self._held.holder.lock_id == lock_id:
            self._held.keepalive.stop()
            self._held = None
        if current.lease:
            self.client.revoke(current.lease)
        else:
            self.client.txn(
                [compare_revision(self.key, "MOD", current.mod_revision)],
                [delete_op(self.key)],
                [],
            )

    def close(self) -> None:
        if self._held is not None:
            self.release(self._held.holder)

    def _revoke_quietly(self, lease: int) -> None:
        with contextlib.suppress(StoreError):  # an unused lease expires by itself
            self.client.revoke(lease)

    @staticmethod
    def _holder_of(kv: KeyValue) -> LockHolder:
        try:
            data = json.loads(kv.value)
            return LockHolder.from_dict(data)
        except (ValueError, TypeError, KeyError):
            return LockHolder.unknown(f"lease-{kv.lease:x}")
