"""Ansible integration: the ``osa_inventory`` inventory plugin, under two names.

- ``plugin: osa_inventory.store.inventory`` (:data:`COLLECTION_PLUGIN`): the
  distribution also installs the collection ``osa_inventory.store``
  (``ansible_collections/osa_inventory/store``) next to this package, where
  ansible-core's scan of ``sys.path`` finds it; nothing to configure.
- ``plugin: osa_inventory``: point Ansible at :func:`plugin_dir`
  (``ANSIBLE_INVENTORY_PLUGINS`` or ``inventory_plugins`` in ansible.cfg).

See docs/ansible.md; ``osa-inventory ansible-setup`` (:mod:`.setup`) writes the
source into OSA's inventory folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["COLLECTION_PLUGIN", "collection_doc_fragment", "plugin_dir"]

#: the plugin's fully qualified collection name
COLLECTION_PLUGIN = "osa_inventory.store.inventory"
#: keys of the plugin's documentation that the collection plugin file sets itself
_OWN_DOC_KEYS = ("name", "extends_documentation_fragment")


def plugin_dir() -> str:
    """The directory holding the ``osa_inventory`` inventory plugin, for Ansible's search path."""
    return str(Path(__file__).resolve().parent / "plugins" / "inventory")


def collection_doc_fragment() -> str:
    """The plugin's DOCUMENTATION as a doc fragment of the ``osa_inventory.store`` collection.

    The text less its top-level keys the collection plugin sets itself (each with its
    indented lines), cut as text: Ansible imports the fragment on every run, and a YAML
    round trip in pure Python would cost it milliseconds.
    """
    from osa_inventory.ansible.plugins.inventory.osa_inventory import DOCUMENTATION

    kept: list[str] = []
    skipping = False
    for line in DOCUMENTATION.splitlines(keepends=True):
        if line.strip() and not line[0].isspace():  # a top-level key starts
            skipping = line.split(":", 1)[0] in _OWN_DOC_KEYS
        if not skipping:
            kept.append(line)
    return "".join(kept)
