"""The backend contract's capabilities: which built-in backend has which, and the typed accessor."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimal_plugin import MinimalPlugin
from osa_inventory.store import Store, open_backend
from osa_inventory.store.backend import (
    CAPABILITIES,
    HostReader,
    SchemaAdmin,
    VersionedBackend,
    capabilities,
)
from osa_inventory.store.registry import BUILTIN_BACKENDS, load_backend_class

EVERY_BACKEND = {
    "locking",
    "versions",
    "snapshot-read",
    "fingerprints",
    "retention",
    "describe",
    "close",
    "urls",
    "history-redaction",
}
SQL = {
    "lock-takeover-report",
    "lock-liveness",
    "host-reads",
    "schema",
    "overwrite",
    "content-rewrite",
}
EXPECTED = {
    "file": EVERY_BACKEND
    | {
        "lock-takeover-report",
        "lock-liveness",
        "canonical-bytes",
        "canonical-writes",
        "default-options",
        "overwrite",
        "content-rewrite",
    },
    "memory": (EVERY_BACKEND - {"snapshot-read", "urls"}) | {"content-rewrite"},
    "sqlite": EVERY_BACKEND | SQL,
    "postgresql": EVERY_BACKEND | SQL,
    "mysql": EVERY_BACKEND | SQL,
    "etcd": EVERY_BACKEND | {"host-reads", "lock-liveness", "overwrite", "content-rewrite"},
    "craton": EVERY_BACKEND | {"doctor-checks", "lock-liveness", "content-rewrite"},
}


@pytest.mark.parametrize("name", sorted(BUILTIN_BACKENDS))
def test_builtin_capabilities(name: str) -> None:
    assert capabilities(load_backend_class(name)) == EXPECTED[name]


def test_a_plugin_with_three_methods_has_no_capability() -> None:
    assert capabilities(MinimalPlugin) == frozenset()
    assert set(CAPABILITIES) >= set().union(*EXPECTED.values())


def test_the_store_hands_out_a_capability_typed(tmp_path: Path) -> None:
    store = Store(open_backend("file", {"path": str(tmp_path / "inventory.json")}))
    assert store.capability(VersionedBackend) is store.backend
    assert store.capability(SchemaAdmin) is None
    assert store.capability(HostReader) is None
    plain = Store(open_backend("minimal_plugin:MinimalPlugin", {"path": str(tmp_path / "p")}))
    assert plain.capability(VersionedBackend) is None
    assert plain.retention() is None and plain.head() is None
