"""The memory backend against the backend conformance suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from osa_inventory.backends.memory import MemoryBackend
from osa_inventory.testing import BackendConformance, BackendSpec


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend_spec(self) -> Iterator[BackendSpec]:
        name = f"conformance-{uuid.uuid4().hex}"
        yield BackendSpec("memory", {"name": name})
        MemoryBackend.reset(name)
