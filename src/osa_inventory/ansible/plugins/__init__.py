"""Ansible plugins shipped with osa-inventory, one directory per plugin type."""
