"""The ``osa_inventory`` plugin's documentation, for its collection name.

Ansible reads a plugin's ``DOCUMENTATION`` from its source file without
importing it, but imports doc fragments: this one hands over the
implementation's own documentation (less the keys the collection plugin sets
itself), so the two names never document different options.
"""

from __future__ import annotations

from osa_inventory.ansible import collection_doc_fragment


class ModuleDocFragment:
    DOCUMENTATION = collection_doc_fragment()
