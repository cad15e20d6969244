"""Inventory plugins (Ansible loads these files by path; the package makes them installable)."""
