"""``etcd``: one inventory shared by several deploy hosts, kept in an etcd cluster.

A version is a tree of content-addressed keys (see :mod:`.tree` and
:mod:`.layout`). A write stores the objects and chunks the current version
lacks, in as many transactions as etcd's limits need, then switches ``head`` in
one compare-and-swap transaction that also writes the version record. Until
that last transaction nothing a reader follows has changed, and after it the
whole new version is there: readers never see half a version. Readers fetch
everything at the revision they read ``head`` at, so even a concurrent garbage
collection cannot pull a key from under them. See docs/etcd.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from osa_inventory.backends.etcd.endpoints import parse_endpoints
from osa_inventory.backends.etcd.kv import KeyValue, compare_revision, put_op, range_op
from osa_inventory.backends.etcd.layout import Layout
from osa_inventory.backends.etcd.records import (
    FORMAT,
    describe_version,
    identity,
    info_of,
    parse_record,
    root_of,
)
from osa_inventory.backends.etcd.tree import (
    HOST,
    REPAIR,
    Ref,
    Root,
    Tree,
    assemble,
    bucket_of,
    build,
    canonical,
    digest,
    join,
    parse_chunk,
    parse_value,
    ref_digests,
)
from osa_inventory.errors import ConfigError, LockTimeout, StaleWrite, StoreCorrupt, StoreError
from osa_inventory.inventory import empty_inventory
from osa_inventory.progress import BYTES, report
from osa_inventory.store.backend import (
    Backend,
    LockHolder,
    Option,
    Retention,
    VersionInfo,
    WriteMeta,
    new_lineage,
)

if TYPE_CHECKING:  # the client (requests, etcd3gw) is imported when a backend is configured
    import logging

    from osa_inventory.backends.etcd.client import EtcdClient
    from osa_inventory.backends.etcd.gc import Collected

#: etcd's default --max-txn-ops is 128; stay below it
BATCH_KEYS = 100
#: etcd's default --max-request-bytes is 1.5 MiB; stay well below it
BATCH_BYTES = 1024 * 1024
UPLOADING = "uploading to etcd"
#: fetch this many missing keys one by one at most; more means a prefix scan
POINT_FETCH_LIMIT = 256
READ_ATTEMPTS = 3
#: every this many versions, GC also sweeps keys of writers that died midway
FULL_SWEEP_EVERY = 16


def _log() -> logging.Logger:
    """This module's logger (``logging`` is imported on first use: the light road never logs)."""
    import logging

    return logging.getLogger(__name__)


class EtcdBackend(Backend):
    name = "etcd"
    extra = "etcd"
    requires = ("etcd3gw",)
    network = True
    light_head = "osa_inventory.backends.etcd.light:etcd_head"
    options: ClassVar[dict[str, Option]] = {
        "endpoints": Option(
            str, "127.0.0.1:2379", "etcd client endpoints host:port[,host:port...], tried in order"
        ),
        "prefix": Option(str, "/osa-inventory", "key prefix; the store is <prefix>/<name>/"),
        "name": Option(str, "default", "inventory name below the prefix"),
        "retention": Option(int, 15, "versions kept for history (1 or more)"),
        "lock_ttl": Option(int, 30, "lease TTL of the lock, in seconds (2 or more)"),
        "timeout": Option(
            float, 10.0, "seconds one request may take, over all endpoints, before failing"
        ),
        "protocol": Option(
            str, None, "http or https for endpoints without a scheme (default: https with TLS)"
        ),
        "ca_cert": Option(str, None, "CA bundle that signed the etcd server certificates"),
        "cert_cert": Option(str, None, "client certificate for TLS client authentication"),
        "cert_key": Option(str, None, "private key of the client certificate"),
        "user": Option(str, None, "etcd user name (etcd authentication)"),
        "password": Option(
            str, None, "etcd password; prefer password_env or password_file", secret=True
        ),
        "api_path": Option(
            str, None, "gRPC gateway path such as /v3/ (default: chosen from the server version)"
        ),
    }

    url_schemes: ClassVar[tuple[str, ...]] = ("etcd", "etcds")

    @classmethod
    def options_from_url(cls, url: str) -> dict[str, str]:
        """``etcd[s]://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...][/PREFIX][?OPTION=VALUE...]``.

        ``etcds`` is the same over https.
        """
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigError(f"{url}: name the endpoints, like etcd://10.0.0.1:2379,10.0.0.2:2379")
        credentials, _, endpoints = parts.netloc.rpartition("@")
        found = {**dict(parse_qsl(parts.query, keep_blank_values=True)), "endpoints": endpoints}
        if credentials:
            user, _, password = credentials.partition(":")
            found["user"] = unquote(user)
            if password:
                found["password"] = unquote(password)
        if parts.path.strip("/"):
            found["prefix"] = "/" + parts.path.strip("/")
        if parts.scheme.lower() == "etcds":
            found["protocol"] = "https"
        return found

    # -- set-up --

    def configure(self) -> None:
        config = self.config
        if config["retention"] < 1:
            raise ConfigError("backend etcd: option retention must be 1 or more")
        if config["lock_ttl"] < 2:
            raise ConfigError("backend etcd: option lock_ttl must be 2 seconds or more")
        if not config["timeout"] > 0:
            raise ConfigError("backend etcd: option timeout must be more than 0 seconds")
        for option in ("ca_cert", "cert_cert", "cert_key"):
            path = config[option]
            if path and not os.access(path, os.R_OK):
                raise ConfigError(
                    f"backend etcd: option {option}: cannot read {path}; fix the path or "
                    "its permissions"
                )
        if config["cert_key"] and not config["cert_cert"]:
            raise ConfigError("backend etcd: option cert_key needs cert_cert (the certificate)")
        if config["password"] and not config["user"]:
            raise ConfigError("backend etcd: a password needs the user option too")
        tls = bool(config["ca_cert"] or config["cert_cert"])
        protocol = (config["protocol"] or ("https" if tls else "http")).lower()
        if protocol not in ("http", "https"):
            raise ConfigError(f"backend etcd: option protocol {protocol!r}: use http or https")
        api_path = config["api_path"]
        if api_path:
            api_path = "/" + api_path.strip("/") + "/"
        from osa_inventory.backends.etcd.client import ClientConfig, EtcdClient

        self.layout = Layout(config["prefix"], config["name"])
        self.client: EtcdClient = EtcdClient(
            ClientConfig(
                endpoints=tuple(parse_endpoints(config["endpoints"], protocol)),
                timeout=float(config["timeout"]),
                ca_cert=config["ca_cert"],
                cert_cert=config["cert_cert"],
                cert_key=config["cert_key"],
                user=config["user"],
                password=config["password"],
                api_path=api_path,
            )
        )
        from osa_inventory.backends.etcd.lease_lock import LeaseLock

        self.lock = LeaseLock(self.client, self.layout.lock, config["lock_ttl"])
        self.keep_versions = int(config["retention"])
        #: immutable chunk and object values by digest, so a second read is cheap
        self._cache: dict[str, bytes] = {}
        #: object digests each chunk refers to, by chunk ref
        self._chunk_sets: dict[str, frozenset[str]] = {}
        #: what the last write_version stored: keys and bytes (for tests and benchmarks)
        self.last_write: dict[str, int] = {}

    def describe(self) -> str:
        """``etcd://HOST:PORT[,HOST:PORT]/PREFIX/NAME`` (``etcds`` over https): which cluster,
        and where in it; never a user or password."""
        endpoints = self.client.config.endpoints
        scheme = "etcds" if all(e.scheme == "https" for e in endpoints) else "etcd"
        return f"{scheme}://{','.join(map(str, endpoints))}{self.layout.describe()}"

    def close(self) -> None:
        self.lock.close()
        self.client.close()

    def retention(self) -> Retention:
        keep = int(self.config["retention"])
        return Retention("retention", keep, keep)

    # -- the three methods --

    def load(self) -> dict[str, Any]:
        return self.read_current()[1]

    def write(self, inventory: dict[str, Any]) -> None:
        self.write_version(inventory, WriteMeta.for_this_process(), self.head())

    # -- reading --

    def head(self) -> VersionInfo | None:
        _, doc = self._head_doc()
        return info_of(doc) if doc else None

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]:
        """The head and its inventory, all read as of one etcd revision."""

        def read() -> tuple[VersionInfo | None, dict[str, Any]]:
            revision, doc = self._head_doc()
            if doc is None:
                return None, empty_inventory()
            return info_of(doc), self._materialize(root_of(doc), revision, current=True)

        return self._retry_compacted(read)

    def load_host(self, name: str) -> dict[str, Any] | None:
        """One host's vars: the head, one manifest chunk and one object."""

        def read() -> dict[str, Any] | None:
            revision, doc = self._head_doc()
            if doc is None:
                return None
            root = root_of(doc)
            if root.shape.get("meta") != "hostvars":
                return None
            entry = HOST + name
            chunk_ref = root.chunks[bucket_of(entry, root.buckets)]
            if chunk_ref is None:
                return None
            chunk = self._chunk(chunk_ref, revision)
            ref = chunk.get(entry)
            if ref is None:
                return None
            data = self._fetch(self.layout.object, self.layout.objects, ref_digests(ref), revision)
            return parse_value(assemble(ref, data, f"host {name}"), f"host {name}")

        return self._retry_compacted(read)

    def list_versions(self) -> list[VersionInfo]:
        revision = self.client.range(self.layout.head).revision
        records = self.client.scan(self.layout.versions, revision=revision)
        return [info_of(parse_record(kv)) for kv in records]

    def read_version(self, version: int) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            revision, kv = self.client.get(self.layout.version(version))
            if kv is None:
                raise StoreError(
                    f"{self.describe()}: version {version} is not retained (retention "
                    f"{self.keep_versions}); see 'osa-inventory history'"
                )
            return self._materialize(root_of(parse_record(kv)), revision)

        return self._retry_compacted(read)

    def _head_doc(self) -> tuple[int, dict[str, Any] | None]:
        revision, kv = self.client.get(self.layout.head)
        return revision, (parse_record(kv) if kv else None)

    def _materialize(self, root: Root, revision: int, current: bool = False) -> dict[str, Any]:
        """The inventory of ``root``; with ``current``, the cache keeps only its values."""
        manifest: dict[str, Ref] = {}
        chunk_data = self._fetch(
            self.layout.chunk, self.layout.chunks, root.chunk_digests(), revision
        )
        for ref in root.chunks:
            if ref is not None:
                manifest.update(parse_chunk(assemble(ref, chunk_data, "a chunk"), "a chunk"))
        wanted = {sha for ref in manifest.values() for sha in ref_digests(ref)}
        objects = self._fetch(self.layout.object, self.layout.objects, wanted, revision)
        values = {
            entry: parse_value(assemble(ref, objects, entry), entry)
            for entry, ref in manifest.items()
        }
        if current:
            self._trim_cache(root, chunk_data.keys() | objects.keys())
        return join(root.shape, values)

    def _trim_cache(self, root: Root, digests: set[str]) -> None:
        """Keep one version's values cached: memory stays at about one inventory."""
        self._cache = {sha: self._cache[sha] for sha in digests if sha in self._cache}
        keep = {ref if isinstance(ref, str) else ",".join(ref) for ref in root.chunks if ref}
        self._chunk_sets = {k: v for k, v in self._chunk_sets.items() if k in keep}

    def _chunk(self, ref: Ref, revision: int) -> dict[str, Ref]:
        data = self._fetch(self.layout.chunk, self.layout.chunks, ref_digests(ref), revision)
        return parse_chunk(assemble(ref, data, "a chunk"), "a chunk")

    def referenced(self, root: Root, revision: int) -> tuple[set[str], set[str]]:
        """(chunk digests, object digests) that a version's root refers to."""
        chunks = root.chunk_digests()
        self._fetch(self.layout.chunk, self.layout.chunks, chunks, revision)  # all at once
        objects: set[str] = set()
        for ref in root.chunks:
            if ref is not None:
                objects |= self._chunk_objects(ref, revision)
        return chunks, objects

    def _chunk_objects(self, ref: Ref, revision: int) -> frozenset[str]:
        key = ref if isinstance(ref, str) else ",".join(ref)
        digests = self._chunk_sets.get(key)
        if digests is None:
            chunk = self._chunk(ref, revision)
            digests = frozenset(sha for value in chunk.values() for sha in ref_digests(value))
            self._chunk_sets[key] = digests
        return digests

    def _fetch(
        self,
        key_of: Callable[[str], bytes],
        prefix: bytes,
        digests: Iterable[str],
        revision: int,
    ) -> dict[str, bytes]:
        """Values by digest, from the cache or etcd (as of ``revision``), checked."""
        wanted = set(digests)
        missing = [sha for sha in wanted if sha not in self._cache]
        if len(missing) > POINT_FETCH_LIMIT:
            todo = set(missing)
            for kv in self.client.scan(prefix, revision=revision):
                sha = self.layout.sha_of(kv.key)
                if sha in todo:
                    self._remember(sha, kv.value)
        elif missing:
            for kv in self.client.get_many([key_of(sha) for sha in missing], revision=revision):
                self._remember(self.layout.sha_of(kv.key), kv.value)
        return {sha: self._cache[sha] for sha in wanted if sha in self._cache}

    def forget(self, sha: str) -> None:
        """Drop a cached value (its key was garbage-collected)."""
        self._cache.pop(sha, None)

    def _remember(self, sha: str, value: bytes) -> None:
        if digest(value) != sha:
            raise StoreCorrupt(
                f"{self.describe()}: key {sha[:12]} does not hold what its digest says; {REPAIR}"
            )
        self._cache[sha] = value

    def _retry_compacted(self, read: Callable[[], Any]) -> Any:
        from osa_inventory.backends.etcd.client import RequestFailed

        for attempt in range(READ_ATTEMPTS):
            try:
                return read()
            except RequestFailed as exc:
                if "compacted" not in exc.detail or attempt == READ_ATTEMPTS - 1:
                    raise
                _log().debug("revision compacted during a read; reading again")
        raise AssertionError("unreachable")

    # -- writing --

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        tree = build(inventory)
        revision, head_kv = self.client.get(self.layout.head)
        doc = parse_record(head_kv) if head_kv else None
        current = info_of(doc) if doc else None
        if identity(current) != identity(expected):
            raise StaleWrite(
                f"{self.describe()} moved on since it was read (now "
                f"{describe_version(current)}); rerun the command to work from it"
            )
        have_chunks: set[str] = set()
        have_objects: set[str] = set()
        if doc is not None:
            have_chunks, have_objects = self.referenced(root_of(doc), revision)
        number = doc["version"] + 1 if doc else self._next_version_number(meta.first_version)
        lineage = doc["lineage"] if doc else new_lineage()
        return self._store_tree(tree, head_kv, number, lineage, meta, have_chunks, have_objects)

    def overwrite(self, inventory: dict[str, Any], meta: WriteMeta) -> VersionInfo:
        """A new version whatever ``head`` holds (recovery from a damaged store).

        Nothing of the current version is read or trusted: every chunk and object
        of the new version is written (one referred to but missing is written
        again), numbered after every version record, in the lineage of the head
        or, when the head is unreadable, of the newest readable record.
        """
        tree = build(inventory)
        revision, head_kv = self.client.get(self.layout.head)
        records = []
        for kv in [head_kv] if head_kv else []:
            try:
                records.append(parse_record(kv))
            except StoreCorrupt:
                _log().info("overwriting a damaged head")
        numbers = [r["version"] for r in records]
        for kv in self.client.scan(self.layout.versions, revision=revision, keys_only=True):
            numbers.append(self.layout.version_number(kv.key) or 0)
        if not records and numbers:
            records += self._newest_readable(max(numbers), revision)
        number = max(numbers, default=0) + 1
        lineage = records[0]["lineage"] if records else new_lineage()
        return self._store_tree(tree, head_kv, number, lineage, meta, set(), set())

    def _newest_readable(self, newest: int, revision: int) -> list[dict[str, Any]]:
        """The newest version record at or below ``newest`` that parses (none: empty)."""
        for number in range(newest, max(newest - self.keep_versions * 2, 0), -1):
            _, kv = self.client.get(self.layout.version(number), revision=revision)
            if kv is None:
                continue
            try:
                return [parse_record(kv)]
            except StoreCorrupt:
                continue
        return []

    def _store_tree(
        self,
        tree: Tree,
        head_kv: KeyValue | None,
        number: int,
        lineage: str,
        meta: WriteMeta,
        have_chunks: set[str],
        have_objects: set[str],
    ) -> VersionInfo:
        """Put the keys of ``tree`` that are not in ``have_*``, then switch ``head`` to it."""
        puts = [
            (self.layout.chunk(sha), data) for sha, data in tree.chunks.items()
            if sha not in have_chunks
        ] + [
            (self.layout.object(sha), data) for sha, data in tree.objects.items()
            if sha not in have_objects
        ]  # fmt: skip
        self._put_all(puts)
        import uuid

        write_id = uuid.uuid4().hex
        record = {
            "format": FORMAT,
            "version": number,
            "lineage": lineage,
            "write_id": write_id,
            "time": meta.time,
            "user": meta.user,
            "host": meta.host,
            "command": meta.command,
            "message": meta.message,
            "fingerprint": meta.fingerprint,
            "warnings": list(meta.warnings),
            "digest": tree.root.digest,
            "root": tree.root.to_dict(),
        }
        body = canonical(record)
        committed = self._switch_head(head_kv, number, body, write_id)
        self.last_write = {
            "keys": len(puts) + 2,
            "bytes": sum(len(k) + len(v) for k, v in puts) + 2 * len(body),
        }
        self._cache.update(tree.chunks)
        self._cache.update(tree.objects)
        try:
            from osa_inventory.backends.etcd.gc import collect_garbage

            collect_garbage(self, full=number % FULL_SWEEP_EVERY == 0, revision=committed)
        except StoreError as exc:  # the version is written; a later write collects
            _log().info("etcd garbage collection failed, a later write retries: %s", exc)
        self._trim_cache(tree.root, tree.chunks.keys() | tree.objects.keys())
        return info_of(record)

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Attach an input fingerprint to the head version (the lock is held)."""
        _, head_kv = self.client.get(self.layout.head)
        if head_kv is None:
            return
        record = parse_record(head_kv)
        if record["version"] != version.version:
            return
        body = canonical({**record, "fingerprint": fingerprint, "warnings": list(warnings)})
        self.client.txn(
            [compare_revision(self.layout.head, "MOD", head_kv.mod_revision), *self.lock.compare()],
            [put_op(self.layout.head, body), put_op(self.layout.version(version.version), body)],
            [],
        )

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Pass each version record's command and message through ``redact`` (lock held).

        A record is rewritten in one transaction with ``head`` when it is the head's,
        compared on its revision and the lock: a concurrent change makes it fail.
        """
        revision, head_kv = self.client.get(self.layout.head)
        head = parse_record(head_kv) if head_kv else None
        changed = []
        for kv in list(self.client.scan(self.layout.versions, revision=revision)):
            record = parse_record(kv)
            texts = {key: str(record.get(key, "")) for key in ("command", "message")}
            redacted = {key: redact(text) for key, text in texts.items()}
            if redacted == texts:
                continue
            compares = [compare_revision(kv.key, "MOD", kv.mod_revision), *self.lock.compare()]
            puts = [put_op(kv.key, canonical({**record, **redacted}))]
            if head_kv is not None and head is not None and head["version"] == record["version"]:
                compares.append(compare_revision(self.layout.head, "MOD", head_kv.mod_revision))
                puts.append(put_op(self.layout.head, canonical({**head, **redacted})))
            if not self.client.txn(compares, puts, []).succeeded:
                raise StoreError(
                    f"{self.describe()}: version {record['version']} changed while its history "
                    "was redacted; run the command again"
                )
            changed.append(int(record["version"]))
        return changed

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """New content for every retained version (``rekey``; the lock is held): the new
        trees are put first, then every version record and ``head`` switch to them in one
        transaction, then a full sweep deletes what only the old contents used."""
        revision, head_kv = self.client.get(self.layout.head)
        records = {}
        for kv in self.client.scan(self.layout.versions, revision=revision):
            record = parse_record(kv)
            records[int(record["version"])] = (kv, record)
        if head_kv is None or sorted(records) != [number for number, _ in contents]:
            raise StaleWrite(f"{self.describe()}: the versions changed since they were read")
        compares = [compare_revision(self.layout.head, "MOD", head_kv.mod_revision)]
        compares += self.lock.compare()
        puts = []
        head = parse_record(head_kv)
        for number, inventory in contents:
            tree = build(inventory)
            self._put_all(
                [(self.layout.chunk(sha), data) for sha, data in tree.chunks.items()]
                + [(self.layout.object(sha), data) for sha, data in tree.objects.items()]
            )
            kv, record = records[number]
            new = {**record, "digest": tree.root.digest, "root": tree.root.to_dict()}
            compares.append(compare_revision(kv.key, "MOD", kv.mod_revision))
            puts.append(put_op(kv.key, canonical(new)))
            if number == head["version"]:
                puts.append(put_op(self.layout.head, canonical({**head, **new})))
        if not self.client.txn(compares, puts, []).succeeded:
            raise StaleWrite(f"{self.describe()} changed during the rewrite; rerun the command")
        self._cache.clear()
        self.collect_garbage(full=True)

    def collect_garbage(self, full: bool = True) -> Collected:
        """Drop versions beyond the retention and keys nothing retained refers to.

        Every write does this for the versions it pushes out of the retention;
        ``full`` also sweeps keys left by writers that died before their last
        step (every FULL_SWEEP_EVERY-th version does that by itself).
        """
        from osa_inventory.backends.etcd.gc import collect_garbage

        return collect_garbage(self, full=full)

    def _put_all(self, puts: list[tuple[bytes, bytes]]) -> None:
        """Store immutable keys in transactions within etcd's limits (progress in bytes)."""
        batch: list[dict[str, Any]] = []
        size = sent = 0
        total = sum(len(key) + len(value) for key, value in puts)
        for key, value in puts:
            if batch and (len(batch) >= BATCH_KEYS or size + len(key) + len(value) > BATCH_BYTES):
                self.client.txn([], batch, [])
                sent += size
                report(UPLOADING, sent, total, BYTES)
                batch, size = [], 0
            batch.append(put_op(key, value))
            size += len(key) + len(value)
        if batch:
            self.client.txn([], batch, [])
            report(UPLOADING, total, total, BYTES)

    def _switch_head(
        self, head_kv: KeyValue | None, number: int, body: bytes, write_id: str
    ) -> int:
        """The final compare-and-swap of ``head`` (and the version record); its revision."""
        guard = (
            compare_revision(self.layout.head, "MOD", head_kv.mod_revision)
            if head_kv
            else compare_revision(self.layout.head, "CREATE", 0)
        )
        result = self.client.txn(
            [guard, *self.lock.compare()],
            [put_op(self.layout.head, body), put_op(self.layout.version(number), body)],
            [range_op(self.layout.head), range_op(self.layout.lock)],
        )
        if result.succeeded:
            return result.revision
        head_now, lock_now = result.ranges()
        if head_now and parse_record(head_now[0]).get("write_id") == write_id:
            return head_now[0].mod_revision  # a retried request that had gone through
        held = self.lock.held
        if held is not None and (
            not lock_now or lock_now[0].create_revision != held.create_revision
        ):
            raise LockTimeout(
                f"{self.describe()}: lost the store lock (its lease expired or it was broken) "
                "before the write; nothing was written, rerun the command"
            )
        now = info_of(parse_record(head_now[0])) if head_now else None
        raise StaleWrite(
            f"{self.describe()} moved on to {describe_version(now)} during the write; "
            "nothing was written, rerun the command"
        )

    def _next_version_number(self, first: int | None = None) -> int:
        """``first`` (default 1) for a new store; after the last record if ``head`` was
        deleted by hand."""
        revision = self.client.range(self.layout.head).revision
        numbers = [
            self.layout.version_number(kv.key)
            for kv in self.client.scan(self.layout.versions, revision=revision, keys_only=True)
        ]
        last = max((n for n in numbers if n is not None), default=0)
        return last + 1 if last else (first or 1)

    # -- the lock --

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        return self.lock.acquire(holder)

    def release_lock(self, holder: LockHolder) -> None:
        self.lock.release(holder)

    def holder_alive(self, holder: LockHolder) -> bool:
        return self.lock.holder_alive(holder)

    def lock_status(self) -> LockHolder | None:
        return self.lock.status()

    def break_lock(self, lock_id: str) -> None:
        self.lock.break_(lock_id)
