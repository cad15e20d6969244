"""Test helpers shipped with osa-inventory, for in-tree and third-party backends.

* :mod:`.backend`: the backend conformance suite (below);
* :mod:`.servers`: PostgreSQL and MariaDB servers started from this machine's
  binaries, for tests and benchmarks;
* :mod:`.etcd_cluster`: a real etcd cluster on loopback;
* :mod:`.craton_server`: a real OpenStack Craton API from the ``shared/craton`` kit;
* :mod:`.deployment`: a prod-shaped OSA deployment of any size
  (``python -m osa_inventory.testing.deployment --computes N --out DIR``).

The conformance suite needs pytest (``pip install 'osa-inventory[test]'``)::

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
