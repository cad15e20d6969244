"""Default locations and limits, importable without pulling in YAML or the generator."""

from __future__ import annotations

import os

DEFAULT_CONFIG_DIR = "/etc/openstack_deploy"
DEFAULT_OSA_ROOT = "/opt/openstack-ansible"
#: seconds a writer waits for the store lock (osa.ini ``lock_timeout``, ``--lock-timeout``)
DEFAULT_LOCK_TIMEOUT = 60.0


def default_config_dir() -> str:
    """``$OSA_CONFIG_DIR``, else ``/etc/openstack_deploy`` (OSA's default)."""
    return os.environ.get("OSA_CONFIG_DIR") or DEFAULT_CONFIG_DIR


def default_osa_root() -> str:
    """``$OSA_ROOT``, else ``/opt/openstack-ansible`` (OSA's checkout)."""
    return os.environ.get("OSA_ROOT") or DEFAULT_OSA_ROOT


def default_environment_dir() -> str:
    """``$OSA_ROOT/inventory``, else ``/opt/openstack-ansible/inventory``."""
    return os.path.join(default_osa_root(), "inventory")


#: the folder of osa-inventory's caches under the user's cache directory
APP_CACHE_DIR = "osa-inventory"


def cache_dir() -> str:
    """Where osa-inventory keeps its caches: ``$XDG_CACHE_HOME/osa-inventory``, else
    ``~/.cache/osa-inventory``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, APP_CACHE_DIR)
