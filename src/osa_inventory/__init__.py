"""osa-inventory: OpenStack-Ansible's inventory with pluggable, production-grade storage."""

__version__ = "0.1.0"
