"""Test helpers shipped with osa-inventory, for in-tree and third-party backends.

The backend conformance suite lives in :mod:`osa_inventory.testing.backend`; it
needs pytest (``pip install 'osa-inventory[test]'``)::

    from osa_inventory.testing import BackendConformance, BackendSpec

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend_spec(self, tmp_path):
            return BackendSpec("mybackend", {"path": str(tmp_path / "store")})
"""

from __future__ import annotations

from osa_inventory.testing.backend import (
    BackendConformance,
    BackendSpec,
    find_shared_dir,
    large_inventory,
    reference_inventories,
    sample_inventory,
    unicode_inventory,
)

__all__ = [
    "BackendConformance",
    "BackendSpec",
    "find_shared_dir",
    "large_inventory",
    "reference_inventories",
    "sample_inventory",
    "unicode_inventory",
]
