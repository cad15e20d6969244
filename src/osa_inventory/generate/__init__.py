"""Pure inventory generation: (user config, skeleton, previous inventory) -> inventory.

Nothing here reads or writes a file or a store; :mod:`osa_inventory.sources`
reads the inputs and the store layer keeps the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osa_inventory.generate.builder import GenerationResult, InventoryBuilder
from osa_inventory.generate.skeleton import Skeleton
from osa_inventory.generate.userconfig import ConfigView
from osa_inventory.inventory import empty_inventory
from osa_inventory.sources import UserConfig

__all__ = ["GenerationResult", "empty_inventory", "generate"]


def generate(
    user_config: UserConfig | Mapping[str, Any],
    environment: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    *,
    previous_checked: bool = False,
) -> GenerationResult:
    """Build the inventory; ``previous`` (the stored one) is read, never modified.

    ``previous_checked``: ``previous`` passed :func:`osa_inventory.inventory.check_shape`
    already (a store's snapshot always has), so it is not checked again.

    Raises :class:`~osa_inventory.errors.GenerationError` (or ``ConfigError`` for a
    malformed skeleton) with a one-line message for any invalid input.
    """
    config = ConfigView(user_config)
    skeleton = Skeleton(environment)
    config.check_provider_networks(skeleton.needs_containers(config.no_containers))
    config.check_unique_host_ips()
    return InventoryBuilder(config, skeleton, previous, previous_checked).build()
