"""``osa_inventory.store.inventory``: the ``osa_inventory`` inventory plugin by its collection name.

The osa-inventory distribution installs this collection next to its Python
package, so ansible-core finds it through its scan of ``sys.path`` for
``ansible_collections``: ``plugin: osa_inventory.store.inventory`` works in the
Python osa-inventory is installed in, with no ``ANSIBLE_INVENTORY_PLUGINS``.
The implementation is :mod:`osa_inventory.ansible.plugins.inventory.osa_inventory`;
its documentation reaches Ansible through the ``osa_inventory.store.inventory``
doc fragment.
"""

from __future__ import annotations

from osa_inventory.ansible.plugins.inventory.osa_inventory import InventoryModule as _Plugin

DOCUMENTATION = r"""
name: inventory
extends_documentation_fragment:
  - osa_inventory.store.inventory
  - inventory_cache
  - constructed
"""

EXAMPLES = r"""
# /opt/openstack-ansible/inventory/osa_inventory.yml, as `osa-inventory ansible-setup --plugin`
# writes it: the store that osa.ini names, read from OSA's inventory folder
plugin: osa_inventory.store.inventory
config_dir: /etc/openstack_deploy
"""


class InventoryModule(_Plugin):
    """Ansible's entry point for ``plugin: osa_inventory.store.inventory``."""

    NAME = "osa_inventory.store.inventory"
