"""The ``etcd`` backend: one inventory shared by several deploy hosts (pip extra ``etcd``).

Modules: :mod:`.endpoints` (the option), :mod:`.kv` (the JSON API's types),
:mod:`.client` (failover, auth, errors), :mod:`.layout` (keys), :mod:`.tree`
(an inventory as content-addressed values), :mod:`.records` (version
records), :mod:`.backend` (reads, atomic writes), :mod:`.gc` (retention) and
:mod:`.lease_lock` (the lock). See docs/etcd.md.
"""

from __future__ import annotations

from osa_inventory.backends.etcd.backend import EtcdBackend

__all__ = ["EtcdBackend"]
