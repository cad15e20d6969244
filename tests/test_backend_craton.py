"""The craton backend against a real Craton server (osa_inventory.testing.craton_server).

One server serves the whole run (fixture ``craton_server``); every test gets a
project of its own and a plain user in it (``craton_options``). Craton answers
about 20 requests a second, so the inventories here are small: the shared
examples, the conformance suite's samples, and a few synthetic ones. The
1,000-host figures are in bench/bench_craton.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from osa_inventory.testing import BackendConformance, BackendSpec


class TestCratonConformance(BackendConformance):
    lock_timeout = 60.0
    contention_timeout = 1.0
    large_computes = 50  # the suite changes compute00042
    writers = 3
    increments = 3

    @pytest.fixture
    def backend_spec(self, craton_options: dict[str, Any]) -> BackendSpec:
        return BackendSpec("craton", dict(craton_options))
