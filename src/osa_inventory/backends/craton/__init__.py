"""The ``craton`` backend: the inventory in a Craton region (pip extra ``craton``).

Modules: :mod:`.client` (HTTP, errors), :mod:`.places` (cloud, region, cells),
:mod:`.mapping` (inventory <-> hosts, labels, variables), :mod:`.sync` (the
requests a change needs), :mod:`.records` (head and version records),
:mod:`.history` (earlier versions), :mod:`.lock` (the lock cell),
:mod:`.doctor`, :mod:`.progress` and :mod:`.backend`. See docs/craton.md.
"""

from __future__ import annotations

from osa_inventory.backends.craton.backend import CratonBackend

__all__ = ["CratonBackend"]
