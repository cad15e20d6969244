"""``craton``: the inventory as hosts, labels and variables of one Craton region.

Craton has no versions, no conditional writes and no transactions, so the
backend builds what it needs from what Craton does have (docs/craton.md):

* a **lock** that every deploy host sees: a cell whose name only one client can
  create (:mod:`.lock`);
* a **head** record in a region variable: version number, lineage and the
  content digest, checked before and after every write, so that a writer that
  lost its lock is refused (StaleWrite) and anything changed behind
  osa-inventory's back is never served as a version;
* a **write-ahead record**: before touching a host a writer stores the change
  it is about to make and its reverse, then marks the head "writing". A reader
  that meets the mark serves the previous version (the reverse change laid
  over what it read); the next run that finds the writer gone completes the
  write from the recorded change. A mixed inventory is never served;
* **history**: each version record keeps the reverse change, so earlier versions
  are rebuilt from the current one (``retention`` versions are kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from osa_inventory.backends.craton.client import ClientConfig, CratonClient, CratonError
from osa_inventory.backends.craton.history import NotRetained, rebuild, retained
from osa_inventory.backends.craton.lock import CellLock
from osa_inventory.backends.craton.mapping import (
    Layout,
    canonical,
    delta,
    digest_of,
    join,
    membership_of,
    overlay,
    split,
)
from osa_inventory.backends.craton.places import HEAD_VAR, HISTORY_CELL, STATE_CELL, Place, Places
from osa_inventory.backends.craton.progress import Progress
from osa_inventory.backends.craton.records import (
    FORMAT,
    REDO_VAR,
    check_head,
    digest_in,
    head_of,
    info_of,
    new_record,
    redacted,
    version_key,
    version_number,
)
from osa_inventory.backends.craton.rekey import new_records, rekeyed_current
from osa_inventory.backends.craton.sync import (
    HostState,
    Stored,
    apply,
    plan,
    read_hosts,
    stored_entries,
)
from osa_inventory.errors import ConfigError, StaleWrite, StoreCorrupt, StoreError
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

READ_ATTEMPTS = 5
#: every this many versions a write also drops version records beyond the retention
SWEEP_EVERY = 16


def _warn(message: str) -> None:
    print(f"osa-inventory: warning: {message}", file=sys.stderr)


class CratonBackend(Backend):
    name = "craton"
    extra = "craton"
    requires = ("requests",)
    network = True
    options: ClassVar[dict[str, Option]] = {
        "url": Option(str, None, "Craton API root, like http://craton:7780/v1", required=True),
        "project_id": Option(str, None, "UUID of the Craton project", required=True),
        "user": Option(
            str, None, "Craton user: a plain (non-admin) user of the project", required=True
        ),
        "key": Option(
            str, None, "the user's API key; prefer key_env or key_file", secret=True, required=True
        ),
        "name": Option(str, "default", "inventory name: the default cloud and region name"),
        "cloud": Option(str, None, "Craton cloud to use or create (default: the inventory name)"),
        "region": Option(str, None, "Craton region to use or create (default: the inventory name)"),
        "retention": Option(int, 15, "versions kept for history (1 or more)"),
        "timeout": Option(float, 30.0, "seconds one request may take, retries included"),
        "verify": Option(bool, True, "check the server's TLS certificate (https URLs)"),
        "ca_cert": Option(str, None, "CA bundle that signed the server's certificate"),
        "adopt_changes": Option(
            bool,
            False,
            "record changes made in Craton outside osa-inventory as a new version when read, "
            "instead of refusing to serve them",
        ),
    }

    url_schemes: ClassVar[tuple[str, ...]] = ("craton+http", "craton+https")

    @classmethod
    def options_from_url(cls, url: str) -> dict[str, str]:
        """``craton+http[s]://USER[:KEY]@HOST:PORT/v1?project_id=UUID[&OPTION=VALUE...]``.

        The key is better given apart (``key_env``) than in the URL.
        """
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(url)
        credentials, _, host = parts.netloc.rpartition("@")
        if not host:
            raise ConfigError(f"{url}: name the Craton API, like craton+http://osa@craton:7780/v1")
        found = dict(parse_qsl(parts.query, keep_blank_values=True))
        found["url"] = f"{parts.scheme.partition('+')[2].lower()}://{host}{parts.path}"
        if credentials:
            user, _, key = credentials.partition(":")
            found["user"] = unquote(user)
            if key:
                found["key"] = unquote(key)
        return found

    # -- set-up --

    def configure(self) -> None:
        config = self.config
        url = str(config["url"]).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"backend craton: option url {url!r} must start with http:// or https://, "
                "like http://craton:7780/v1"
            )
        if url.count("/") == 2:  # no path: the API lives under /v1
            url += "/v1"
        try:
            project_id = str(uuid.UUID(str(config["project_id"]).strip()))
        except ValueError:
            raise ConfigError(
                f"backend craton: option project_id {config['project_id']!r} is not a UUID; "
                "give the project's id (Craton answers 401 to anything else)"
            ) from None
        if config["retention"] < 1:
            raise ConfigError("backend craton: option retention must be 1 or more")
        if not config["timeout"] > 0:
            raise ConfigError("backend craton: option timeout must be more than 0 seconds")
        ca_cert = config["ca_cert"]
        if ca_cert and not os.access(ca_cert, os.R_OK):
            raise ConfigError(
                f"backend craton: option ca_cert: cannot read {ca_cert}; fix the path or its "
                "permissions"
            )
        verify: bool | str = ca_cert or bool(config["verify"])
        self.url = url
        self.project_id = project_id
        self.cloud = config["cloud"] or config["name"]
        self.region = config["region"] or config["name"]
        self.keep = int(config["retention"])
        self.client = CratonClient(
            ClientConfig(url, project_id, config["user"], config["key"], config["timeout"], verify)
        )
        self.places = Places(self.client, project_id, self.cloud, self.region)
        self.lock = CellLock(self.places, warn=lambda message: self.warn(message))
        #: what Craton held at the last read or write (hosts with ids), and its version
        self._stored: tuple[tuple[Any, ...] | None, Stored] | None = None
        self.warn: Callable[[str], None] = _warn

    def describe(self) -> str:
        from osa_inventory.settings import mask_url_password

        return f"craton:{mask_url_password(self.url)}/{self.project_id}/{self.cloud}/{self.region}"

    def close(self) -> None:
        self.lock.close()
        self.client.close()

    def retention(self) -> Retention:
        return Retention("retention", self.keep, self.keep)

    # -- the three methods --

    def load(self) -> dict[str, Any]:
        return self.read_current()[1]

    def write(self, inventory: dict[str, Any]) -> None:
        self.write_version(inventory, WriteMeta.for_this_process(), self.head())

    # -- the head --

    def _head_record(self) -> tuple[Place | None, dict[str, Any] | None]:
        place, variables = self.places.region_variables()
        return place, check_head(variables.get(HEAD_VAR), self.describe())

    def head(self) -> VersionInfo | None:
        _, head = self._head_record()
        return info_of(head)

    # -- reading --

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]:
        """The current version and its inventory, verified against the recorded digest.

        An instance that read or wrote the head version before answers from
        what it kept then, after one request for the head.
        """
        for _ in range(READ_ATTEMPTS):
            place, head = self._head_record()
            if place is None or head is None:
                self._stored = None
                return None, empty_inventory()
            writing = head.get("writing")
            if writing and self.lock.held is not None:
                self._roll_forward(place, head)
                continue
            if writing:
                recovering = self._recover()
                if recovering is not None:
                    try:
                        self._roll_forward(place, head)
                    finally:
                        self.lock.release(recovering)
                    continue
            if not writing and self._stored is not None:
                known, stored = self._stored
                if known == identity(info_of(head)):  # read or written by this instance
                    layout = stored.layout()
                    return info_of(head), join(layout.hosts, layout.entries)
            try:
                stored = self._read_stored(place)
            except CratonError as exc:
                if exc.status in (400, 404):  # a page marker or object deleted by a writer
                    continue
                raise
            if self._head_record()[1] != head:
                continue  # a writer moved on while we read: read again
            layout = stored.layout()
            if writing:
                layout = overlay(layout, self._undo_of(writing))
            inventory = join(layout.hosts, layout.entries)
            if digest_of(inventory) != digest_in(head):
                return self._mismatch(place, head, stored, inventory)
            if not writing:
                self._stored = (identity(info_of(head)), stored)
            return info_of(head), inventory
        raise StoreError(
            f"{self.describe()}: the store kept changing while it was read "
            f"({READ_ATTEMPTS} attempts); retry"
        )

    def _read_stored(self, place: Place) -> Stored:
        _, entries = self.places.cell(STATE_CELL)
        hosts = read_hosts(self.client, place.region_id)
        return Stored(hosts, stored_entries(entries))

    def _history(self) -> dict[str, Any]:
        return self.places.cell(HISTORY_CELL)[1]

    def _undo_of(self, writing: dict[str, Any]) -> dict[str, Any]:
        return self._pending(writing, self._history())[0]

    def _pending(
        self, writing: dict[str, Any], history: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(undo, pending change) of the write or rekey the head is marked with."""
        number, write_id = int(writing["version"]), writing.get("write_id")
        pending = history.get(REDO_VAR)
        if writing.get("rekey"):
            record = pending
            found = isinstance(pending, dict) and pending.get("write_id") == write_id
        else:
            record = history.get(version_key(number))
            found = (
                isinstance(record, dict)
                and isinstance(pending, dict)
                and record.get("write_id") == write_id == pending.get("write_id")
            )
        if not found:
            raise StoreCorrupt(
                f"{self.describe()}: the {_what(writing)} of version {number} is under way or "
                f"was interrupted, and its records ({version_key(number)}, {REDO_VAR} of cell "
                f"{HISTORY_CELL}) were removed outside osa-inventory, so it can be neither "
                "completed nor undone"
            )
        assert isinstance(record, dict) and isinstance(pending, dict)
        return record["undo"], pending

    def _mismatch(
        self, place: Place, head: dict[str, Any], stored: Stored, inventory: dict[str, Any]
    ) -> tuple[VersionInfo | None, dict[str, Any]]:
        number = head["version"]
        if head.get("writing") or not self.config["adopt_changes"]:
            counted = head.get("hosts")
            hosts = (
                f" ({len(stored.hosts)} hosts, version {number} had {counted})"
                if isinstance(counted, int) and counted != len(stored.hosts)
                else ""
            )
            raise StoreCorrupt(
                f"{self.describe()}: what Craton holds is not version {number} as written{hosts}: "
                "hosts, their variables or the groups of cell osa-inventory were changed "
                "outside osa-inventory. "
                "To keep what Craton holds as a new version run 'osa-inventory doctor "
                "--backend-option adopt_changes=true' with your usual settings"
            )
        meta = WriteMeta.for_this_process(
            message="adopted changes made in Craton outside osa-inventory"
        )
        with self.lock.for_write(float(self.config["timeout"])):
            current = self._head_record()[1]
            if current != head:
                raise StaleWrite(f"{self.describe()} moved on while read; retry")
            info = self._commit_adopted(place, head, stored, inventory, meta)
        self.warn(
            f"{self.describe()}: changes made in Craton outside osa-inventory were recorded as "
            f"version {info.version}"
        )
        return info, inventory

    # -- interrupted writes --

    def _recover(self) -> LockHolder | None:
        """Take the lock if the writer that marked the head is gone; the holder taken, or None."""
        holder = self.lock.status()
        if holder is not None:
            if not self.lock.gone(holder):
                return None  # a writer at work: readers serve the previous version meanwhile
            with contextlib.suppress(StoreError):
                self.lock.break_(holder.lock_id)
            self.warn(f"breaking abandoned lock held by {holder.describe()}")
        mine = LockHolder.for_this_process()
        return mine if self.lock.acquire(mine) is None else None

    def _roll_forward(self, place: Place, head: dict[str, Any], interrupted: bool = True) -> None:
        """Finish the write or rekey the head is marked with (the lock is held)."""
        writing = head["writing"]
        number = int(writing["version"])
        history = self._history()
        undo, pending = self._pending(writing, history)
        stored = self._read_stored(place)
        mixed = stored.layout()
        base, target = overlay(mixed, undo), overlay(mixed, pending["redo"])
        if digest_of(join(target.hosts, target.entries)) != writing.get("digest"):
            raise StoreCorrupt(
                f"{self.describe()}: the interrupted {_what(writing)} of version {number} cannot "
                "be completed: what Craton holds was also changed outside osa-inventory"
            )
        state_id = self.places.ensure_cell(STATE_CELL)
        self._apply(plan(stored, target, base.membership(), place, state_id), place)
        if writing.get("rekey"):
            self._commit_rekey(pending, len(target.hosts))
        else:
            self._commit(history[version_key(number)], len(target.hosts))
        if interrupted:
            self.warn(
                f"{self.describe()}: completed the {_what(writing)} of version {number} by "
                f"{writing.get('user')}@{writing.get('host')}, which was interrupted"
            )

    # -- writing --

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        target = split(inventory)  # refuses what Craton cannot hold before anything is sent
        digest = digest_of(inventory)
        with self.lock.for_write(float(self.config["timeout"])):
            place = self.places.ensure()
            head = self._head_record()[1]
            if head is not None and head.get("writing"):
                self._roll_forward(place, head)
                head = self._head_record()[1]
            current = info_of(head)
            if identity(current) != identity(expected):
                raise StaleWrite(
                    f"{self.describe()} moved on since it was read (now {_which(current)}); "
                    "rerun the command to work from it"
                )
            stored = self._stored_for(place, current)
            state_id = self.places.ensure_cell(STATE_CELL)
            history_id = self.places.ensure_cell(HISTORY_CELL)
            undo, redo = delta(stored.layout(), target)
            number = (
                head["version"] + 1 if head is not None else self._next_number(meta.first_version)
            )
            lineage = head["lineage"] if head is not None and head["version"] else new_lineage()
            write_id = uuid.uuid4().hex
            record = {
                **new_record(number, lineage, digest, meta),
                "write_id": write_id,
                "undo": undo,
            }
            self.client.put(
                f"/cells/{history_id}/variables",
                {
                    version_key(number): record,
                    REDO_VAR: {"write_id": write_id, "version": number, "redo": redo},
                },
            )
            base_head = head if head is not None else self._empty_head(lineage)
            self._put_head({**base_head, "writing": marker(number, write_id, digest, meta.user)})
            requests = plan(stored, target, stored_membership(stored), place, state_id)
            created = self._apply(requests, place)
            now = self._head_record()[1]
            if now is None or (now.get("writing") or {}).get("write_id") != write_id:
                raise StaleWrite(
                    f"{self.describe()}: another writer changed the store during this write "
                    f"(now {_which(info_of(now))}); this write was not recorded. Rerun "
                    "the command; 'osa-inventory doctor' checks the store"
                )
            info = self._commit(record, len(target.hosts))
            self._remember(info, stored, target, created)
            return info

    # -- rekey --

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """New content for every readable kept version (``rekey``, see :mod:`.rekey`).

        The pending change and the new records are stored before anything else,
        so that a reader serves the old version meanwhile and any later run can
        complete an interrupted rekey (no key needed: everything is sealed already).
        """
        with self.lock.for_write(float(self.config["timeout"])):
            current, _ = self.read_current()  # completes an interrupted write or rekey first
            place, head = self._head_record()
            if current is None or place is None or head is None or head.get("writing"):
                raise StaleWrite(f"{self.describe()} moved on while it was read; rerun the command")
            history = self._history()
            records = new_records(contents, current, history, self.describe())
            stored = self._stored_for(place, current)
            undo, redo = delta(stored.layout(), split(contents[-1][1]))
            write_id, digest = uuid.uuid4().hex, digest_of(contents[-1][1])
            pending = {
                "write_id": write_id,
                "version": current.version,
                "rekey": True,
                "from": digest_in(head),
                "to": digest,
                "undo": undo,
                "redo": redo,
                "records": records,
            }
            history_id = self.places.ensure_cell(HISTORY_CELL)
            self.client.put(f"/cells/{history_id}/variables", {REDO_VAR: pending})
            user = WriteMeta.for_this_process().user
            marked = {
                **head,
                "writing": {**marker(current.version, write_id, digest, user), "rekey": True},
            }
            self._put_head(marked)
            self._stored = None
            self._roll_forward(place, marked, interrupted=False)

    def _commit_rekey(self, pending: dict[str, Any], hosts: int) -> None:
        """Replace the version records (one request), then give the head the new digest."""
        now = self._head_record()[1]
        if now is None or (now.get("writing") or {}).get("write_id") != pending["write_id"]:
            raise StaleWrite(
                f"{self.describe()}: another writer changed the store during the rekey; rerun "
                "'osa-inventory rekey'"
            )
        history_id = self.places.ensure_cell(HISTORY_CELL)
        self.client.put(f"/cells/{history_id}/variables", pending["records"])
        new_head = {key: value for key, value in now.items() if key != "writing"}
        new_head.update(extra={**now["extra"], "digest": pending["to"]}, hosts=hosts)
        self._put_head(new_head)
        with contextlib.suppress(StoreError):  # rekeyed; the next write drops it
            self.client.delete(f"/cells/{history_id}/variables", [REDO_VAR])

    def _empty_head(self, lineage: str) -> dict[str, Any]:
        """A head for a store without a version yet (the first write marks it)."""
        empty = VersionInfo(0, lineage, 0.0, extra={"digest": digest_of(empty_inventory())})
        return {**empty.to_dict(), "format": FORMAT, "cloud": self.cloud, "hosts": 0}

    def _put_head(self, head: dict[str, Any]) -> None:
        place = self.places.ensure()
        self.client.put(f"/regions/{place.region_id}/variables", {HEAD_VAR: head})

    def _apply(self, requests: Any, place: Place) -> dict[str, int]:
        """Send a plan with progress, renewing the lock; the ids of created hosts."""
        created: dict[str, int] = {}
        if not len(requests):
            return created
        self.lock.renew()
        with Progress(f"craton: writing {self.region}", len(requests)) as progress:

            def step() -> None:
                progress.advance()
                self.lock.renew()

            apply(self.client, requests.requests, place, step, created)
        return created

    def _commit(self, record: dict[str, Any], hosts: int) -> VersionInfo:
        """Make the written version current, then drop the pending change and old versions."""
        number = int(record["version"])
        self._put_head(head_of(record, self.cloud, hosts))
        history_id = self.places.ensure_cell(HISTORY_CELL)
        drop = [REDO_VAR, version_key(number - self.keep)]
        if number % SWEEP_EVERY == 0:
            drop += [
                key
                for key in self._history()
                if (version_number(key) or number) <= number - self.keep
            ]
        with contextlib.suppress(StoreError):  # the version is written; a later write sweeps
            self.client.delete(f"/cells/{history_id}/variables", sorted(set(drop)))
        return VersionInfo.from_dict(record)

    def _commit_adopted(
        self,
        place: Place,
        head: dict[str, Any],
        stored: Stored,
        inventory: dict[str, Any],
        meta: WriteMeta,
    ) -> VersionInfo:
        number = head["version"] + 1
        record = {
            **new_record(number, head["lineage"], digest_of(inventory), meta),
            "write_id": uuid.uuid4().hex,
            "undo": None,  # the earlier content is unknown: versions before cannot be rebuilt
        }
        history_id = self.places.ensure_cell(HISTORY_CELL)
        self.client.put(f"/cells/{history_id}/variables", {version_key(number): record})
        info = self._commit(record, len(stored.hosts))
        self._stored = (identity(info), stored)
        return info

    def _stored_for(self, place: Place, current: VersionInfo | None) -> Stored:
        """What Craton holds for ``current``: from the last read if it was that version."""
        if current is None:
            self._stored = None
            return self._read_stored(place)
        if self._stored is not None and self._stored[0] == identity(current):
            return self._stored[1]
        info, _ = self.read_current()
        if identity(info) != identity(current) or self._stored is None:
            raise StaleWrite(f"{self.describe()} moved on while it was read; rerun the command")
        return self._stored[1]

    def _remember(
        self, info: VersionInfo, before: Stored, target: Layout, created: dict[str, int]
    ) -> None:
        hosts = {}
        for name in target.hosts:
            spec = target.spec(name)
            old = before.hosts.get(name)
            host_id = created.get(name, old.id if old is not None else None)
            if host_id is None:
                self._stored = None  # unknown id: the next write reads first
                return
            hosts[name] = HostState(
                host_id, spec.ip_address, spec.device_type, canonical(spec.hostvars)
            )
        self._stored = (identity(info), Stored(hosts, stored_entries(target.entries)))

    def _next_number(self, first: int | None = None) -> int:
        """``first`` (default 1) for a new store; after the last record if the head was
        removed by hand."""
        numbers = [version_number(key) for key in self._history()]
        last = max((n for n in numbers if n is not None), default=0)
        return last + 1 if last else (first or 1)

    # -- history --

    def list_versions(self) -> list[VersionInfo]:
        current = info_of(self._head_record()[1])
        return [] if current is None else retained(current, self._history())

    def read_version(self, version: int) -> dict[str, Any]:
        unmatched: str | None = None  # the head's record, naming other content than the head
        for _ in range(READ_ATTEMPTS):
            unmatched = None
            history = self._history()
            current, inventory = self.read_current()
            if current is None or not 1 <= version <= current.version:
                break
            if version == current.version:
                return inventory
            if version_key(current.version) not in history:
                continue  # a write landed between the two reads
            recorded = rekeyed_current(current, inventory, history)
            if recorded is None:
                unmatched = version_key(current.version)
                continue  # a rekey finished between the two reads
            current, inventory = recorded
            try:
                return rebuild(version, current, inventory, history, self.describe())
            except NotRetained:
                break
        if unmatched is not None:
            raise StoreCorrupt(
                f"{self.describe()}: version record {unmatched} of cell "
                f"{HISTORY_CELL} does not name the current content; the history was changed "
                "outside osa-inventory"
            )
        raise StoreError(
            f"{self.describe()}: version {version} is not retained (retention "
            f"{self.keep}); see 'osa-inventory history'"
        )

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Attach an input fingerprint to the head version (the lock is held)."""
        _, head = self._head_record()
        if head is None or head["version"] != version.version or head.get("writing"):
            return
        extra = {**head["extra"], **fingerprint_extra(fingerprint, warnings)}
        self._put_head({**head, "extra": extra})

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Pass the command and message of every version record and of the head through
        ``redact``, rewriting in place what changed (the lock is held); the versions changed.
        """
        place, head = self._head_record()
        if place is None:
            return []
        changed: set[int] = set()
        history_id, history = self.places.cell(HISTORY_CELL)
        rewritten = {}
        for key, record in history.items():
            number = version_number(key)
            if number is None:
                continue
            new = redacted(record, redact)
            if new is not record:
                rewritten[key] = new
                changed.add(number)
        if rewritten and history_id is not None:
            self.client.put(f"/cells/{history_id}/variables", rewritten)
        if head is not None and head.get("version"):
            new_head = redacted(head, redact)
            if new_head is not head:
                self._put_head(new_head)
                changed.add(int(head["version"]))
        return sorted(changed)

    # -- doctor --

    def doctor_checks(self) -> list[tuple[str, str, str]]:
        """Craton's own checks for ``osa-inventory doctor``: user, pending write, labels."""
        from osa_inventory.backends.craton.doctor import labels_row, user_row, writing_row

        _, head = self._head_record()
        rows = [user_row(self.client, self.config["user"]), writing_row(head)]
        if head is not None and self._stored is not None and not head.get("writing"):
            rows.append(labels_row(self.client, self.places, self._stored[1]))
        return rows

    # -- the lock --

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        return self.lock.acquire(holder)

    def holder_alive(self, holder: LockHolder) -> bool | None:
        return self.lock.holder_alive(holder)

    def release_lock(self, holder: LockHolder) -> None:
        self.lock.release(holder)

    def lock_status(self) -> LockHolder | None:
        return self.lock.status()

    def break_lock(self, lock_id: str) -> None:
        self.lock.break_(lock_id)


def stored_membership(stored: Stored) -> dict[str, set[str]]:
    return membership_of({key: json.loads(text) for key, text in stored.entries.items()})


def identity(info: VersionInfo | None) -> tuple[Any, ...] | None:
    """What must match for a write to go ahead: number, lineage and content digest."""
    return None if info is None else (info.version, info.lineage, info.extra.get("digest"))


def marker(number: int, write_id: str, digest: str, user: str) -> dict[str, Any]:
    """The head's ``writing`` mark: the version under way, its digest, who writes it."""
    return {
        "version": number,
        "write_id": write_id,
        "digest": digest,
        "user": user,
        "host": os.uname().nodename,
        "pid": os.getpid(),
        "since": time.time(),
    }


def _what(writing: dict[str, Any]) -> str:
    return "rekey" if writing.get("rekey") else "write"


def _which(info: VersionInfo | None) -> str:
    return "an empty store" if info is None else f"version {info.version}"
