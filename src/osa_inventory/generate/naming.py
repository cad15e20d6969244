"""Names of groups and containers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container

# OSA keeps `<host>-<container type>` within 52 characters so that the name with
# its `-<8 hex>` suffix stays a valid 63-character hostname.
MAX_CONTAINER_PREFIX = 52
MAX_HOSTNAME = 63


HOST_CONTAINERS = "host_containers"


def group_name(name: str) -> str:
    """A config or env.d group name as OSA reads it: ``-`` becomes ``_``.

    Not for names built from a host name: those keep the host name as written.
    """
    return name.replace("-", "_")


def host_containers_group(host: str) -> str:
    """The group that lists the containers living on ``host``: ``aio-1_host_containers``.

    The host name is kept as written, dashes included, as OSA does.
    """
    return f"{host}_{HOST_CONTAINERS}"


def stored_group_name(name: str) -> str:
    """The name a group read from a stored inventory goes by.

    ``<host>_host_containers`` keeps its host part as written (older OSA releases
    wrote ``<host>-host_containers``, read as the same group); any other group
    name is read as :func:`group_name` reads it.
    """
    if name.endswith(HOST_CONTAINERS) and name[: -len(HOST_CONTAINERS)].endswith(("_", "-")):
        return host_containers_group(name[: -len(HOST_CONTAINERS) - 1])
    return group_name(name)


def _type_part(container_type: str) -> str:
    return container_type.replace("_", "-")


def container_prefix(host: str, container_type: str) -> str:
    """``<host>-<type with _ as ->``, the part before a container's suffix."""
    return f"{host}-{_type_part(container_type)}"


def physical_group_for(container_group: str, suffix: str) -> str:
    """``nova_compute_containers`` -> ``nova_compute_<suffix>`` (last ``_part`` replaced)."""
    head, sep, _ = container_group.rpartition("_")
    return f"{head}_{suffix}" if sep else f"{container_group}_{suffix}"


def new_container_name(host: str, container_type: str, index: int, existing: Container[str]) -> str:
    """A deterministic container name: a hash of host, type and index as suffix.

    A clash with an existing name (rare: 32-bit suffixes) is resolved by hashing
    again with a counter, in a fixed order, so the result stays reproducible.
    """
    prefix = container_prefix(host, container_type)
    salt = 0
    while True:
        seed = f"{host}|{container_type}|{index}" + (f"|{salt}" if salt else "")
        suffix = hashlib.blake2b(seed.encode(), digest_size=4).hexdigest()
        name = f"{prefix}-{suffix}"
        if name not in existing:
            return name
        salt += 1


_SEPARATORS = re.compile(r"[-_]")


def belongs_to_prefix(name: str, host: str, container_type: str) -> bool:
    """Whether ``name`` is a container of ``container_type`` on ``host``.

    ``-`` and ``_`` are treated alike, as older inventories used either.
    """
    wanted = _SEPARATORS.sub("-", container_prefix(host, container_type)) + "-"
    return _SEPARATORS.sub("-", name).startswith(wanted)
