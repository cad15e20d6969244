"""Ansible integration: the ``osa_inventory`` inventory plugin shipped as a plugin directory.

Point Ansible at :func:`plugin_dir` (``ANSIBLE_INVENTORY_PLUGINS`` or
``inventory_plugins`` in ansible.cfg) and write a YAML file with
``plugin: osa_inventory``; see docs/ansible.md.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["plugin_dir"]


def plugin_dir() -> str:
    """The directory holding the ``osa_inventory`` inventory plugin, for Ansible's search path."""
    return str(Path(__file__).resolve().parent / "plugins" / "inventory")
