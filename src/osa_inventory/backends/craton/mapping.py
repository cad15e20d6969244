"""How an inventory maps onto Craton objects, and back (see docs/craton.md).

* every host of ``_meta.hostvars`` is a Craton host of the region: its
  variables are the host's own Craton variables, its groups are its labels,
  ``ip_address`` is its management address and ``device_type`` says whether it
  is a container;
* everything else (each group with its ``hosts`` and ``children`` lists in
  order and its ``vars``, ``all.vars``, other ``_meta`` keys) is an *entry*: a
  variable of the region's ``osa-inventory`` cell.

Craton on SQLite keeps a top-level numeric variable as a SQL number, so 4.0
comes back as 4 and integers beyond 64 bits as floats. The exact JSON of every
top-level float or big integer of a host is therefore also kept in the host
variable :data:`EXACT_KEY`, and restored from there when read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from osa_inventory.errors import ConfigError, StoreCorrupt

#: host variable holding the exact JSON of values Craton's database would change
EXACT_KEY = "osa_inventory_exact"
#: ``ip_address`` of a host whose management address is missing or not an IP address
PLACEHOLDER_IP = "0.0.0.0"
CONTAINER = "container"
SERVER = "server"
#: Craton keeps names, labels and variable keys in columns of 255 characters
NAME_LIMIT = 255

GROUP = "group:"  # a group (any top-level key whose value is an object)
VALUE = "value:"  # a top-level key whose value is not an object, as [value]
META = "meta:"  # a key of _meta other than hostvars, as [value]
SHAPE = "shape"  # present only when _meta or _meta.hostvars is missing

_INT64 = (-(2**63), 2**63 - 1)


def canonical(value: Any) -> str:
    """The one JSON text of ``value`` used for digests and comparisons."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(inventory: Mapping[str, Any]) -> str:
    """The content digest a version records: SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical(inventory).encode("utf-8", "surrogatepass")).hexdigest()


# -- host variables ------------------------------------------------------------------


def _at_risk(value: Any) -> bool:
    if isinstance(value, float):
        return True
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (_INT64[0] <= value <= _INT64[1])
    )


def encode_vars(hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """The Craton variables of a host: its vars, plus the exact JSON of numbers at risk."""
    stored = dict(hostvars)
    exact = {key: canonical(value) for key, value in hostvars.items() if _at_risk(value)}
    if exact:
        stored[EXACT_KEY] = exact
    return stored


def decode_vars(stored: Mapping[str, Any], host: str) -> dict[str, Any]:
    """A host's inventory vars from its Craton variables."""
    hostvars = dict(stored)
    exact = hostvars.pop(EXACT_KEY, None)
    if exact is None:
        return hostvars
    if not isinstance(exact, dict):
        raise StoreCorrupt(
            f"craton: host {host}: variable {EXACT_KEY} is not an object; it was changed "
            "outside osa-inventory"
        )
    for key, text in exact.items():
        if key in hostvars and isinstance(text, str):
            try:
                hostvars[key] = json.loads(text)
            except ValueError as exc:
                raise StoreCorrupt(
                    f"craton: host {host}: {EXACT_KEY}[{key!r}] is not JSON; it was changed "
                    "outside osa-inventory"
                ) from exc
    return hostvars


def exact_part(hostvars: Mapping[str, Any]) -> dict[str, str] | None:
    """The :data:`EXACT_KEY` value :func:`encode_vars` stores for these vars (None: none)."""
    return encode_vars(hostvars).get(EXACT_KEY)


def management_ip(hostvars: Mapping[str, Any]) -> str:
    """The host's Craton ``ip_address``: management address, else ansible_host, else 0.0.0.0.

    Craton accepts any text there but then fails every read of the host, so
    only a literal IPv4 or IPv6 address (without a zone) is sent.
    """
    for key in ("management_address", "ansible_host"):
        value = hostvars.get(key)
        if isinstance(value, str) and "%" not in value:
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                continue
    return PLACEHOLDER_IP


def device_type(name: str, hostvars: Mapping[str, Any]) -> str:
    physical = hostvars.get("physical_host")
    return CONTAINER if isinstance(physical, str) and physical and physical != name else SERVER


# -- the whole inventory -------------------------------------------------------------


@dataclass(frozen=True)
class HostSpec:
    """What one inventory host is in Craton (variables still in inventory form)."""

    name: str
    hostvars: dict[str, Any]
    ip_address: str
    device_type: str


@dataclass
class Layout:
    """An inventory split into Craton hosts and ``osa-inventory`` cell entries."""

    hosts: dict[str, dict[str, Any]]  # name -> hostvars
    entries: dict[str, Any]  # cell variable -> value

    def membership(self) -> dict[str, set[str]]:
        """Host -> the groups whose ``hosts`` list names it (its labels)."""
        return membership_of(self.entries)

    def spec(self, name: str) -> HostSpec:
        hostvars = self.hosts[name]
        return HostSpec(name, hostvars, management_ip(hostvars), device_type(name, hostvars))


def membership_of(entries: Mapping[str, Any]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for key, value in entries.items():
        if key.startswith(GROUP) and isinstance(value, dict):
            hosts = value.get("hosts")
            if isinstance(hosts, list):
                for host in hosts:
                    if isinstance(host, str):
                        result.setdefault(host, set()).add(key[len(GROUP) :])
    return result


def split(inventory: Mapping[str, Any]) -> Layout:
    """Check that Craton can hold ``inventory`` and split it; raise ConfigError otherwise."""
    if not isinstance(inventory, Mapping):
        raise ConfigError("craton: an inventory must be a JSON object")
    entries: dict[str, Any] = {}
    hosts: dict[str, dict[str, Any]] = {}
    meta = inventory.get("_meta")
    if "_meta" not in inventory:
        entries[SHAPE] = {"meta": False}
    elif not isinstance(meta, dict):
        raise ConfigError("craton: _meta of the inventory must be an object")
    else:
        if "hostvars" not in meta:
            entries[SHAPE] = {"hostvars": False}
        raw_hosts = meta.get("hostvars", {})
        if not isinstance(raw_hosts, dict):
            raise ConfigError("craton: _meta.hostvars of the inventory must be an object")
        for name, hostvars in raw_hosts.items():
            _check_name(name, "host name")
            if not isinstance(hostvars, dict):
                raise ConfigError(f"craton: the variables of host {name} are not an object")
            for key in hostvars:
                _check_variable(name, key)
            hosts[name] = hostvars
        for key, value in meta.items():
            if key != "hostvars":
                entries[_entry_key(META, key)] = [value]
    for key, value in inventory.items():
        if key == "_meta":
            continue
        if isinstance(value, dict):
            entries[_entry_key(GROUP, key)] = value
            members = value.get("hosts")
            if isinstance(members, list) and any(m in hosts for m in members if isinstance(m, str)):
                _check_name(key, "group name (a host label)")
        else:
            entries[_entry_key(VALUE, key)] = [value]
    return Layout(hosts, entries)


def join(hosts: Mapping[str, dict[str, Any]], entries: Mapping[str, Any]) -> dict[str, Any]:
    """The inventory of hosts (name -> vars) and cell entries; keys in sorted order."""
    inventory: dict[str, Any] = {}
    shape = entries.get(SHAPE) or {}
    if not isinstance(shape, dict):
        raise StoreCorrupt(f"craton: cell variable {SHAPE} is not an object")
    meta: dict[str, Any] | None = None
    if shape.get("meta", True):
        meta = {}
        if shape.get("hostvars", True):
            meta["hostvars"] = {name: hosts[name] for name in sorted(hosts)}
        inventory["_meta"] = meta
    elif hosts:
        raise StoreCorrupt("craton: the region holds hosts but the inventory has no _meta")
    for key in sorted(entries):
        value = entries[key]
        if key == SHAPE:
            continue
        if key.startswith(GROUP):
            if not isinstance(value, dict):
                raise StoreCorrupt(f"craton: cell variable {key} is not an object")
            inventory[key[len(GROUP) :]] = value
        elif key.startswith((VALUE, META)):
            if not isinstance(value, list) or len(value) != 1:
                raise StoreCorrupt(f"craton: cell variable {key} is not a one-item list")
            if key.startswith(VALUE):
                inventory[key[len(VALUE) :]] = value[0]
            elif meta is not None:
                meta[key[len(META) :]] = value[0]
        else:
            raise StoreCorrupt(f"craton: unexpected cell variable {key}")
    return inventory


def _entry_key(prefix: str, name: str) -> str:
    key = prefix + name
    if len(key) > NAME_LIMIT:
        raise ConfigError(
            f"craton: inventory key {name[:40]!r}… is longer than Craton's "
            f"{NAME_LIMIT - len(prefix)} characters; shorten it"
        )
    return key


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > NAME_LIMIT:
        raise ConfigError(
            f"craton: {what} {name[:60]!r} cannot be stored: Craton needs 1 to {NAME_LIMIT} "
            "characters"
        )


def _check_variable(host: str, key: str) -> None:
    if key == EXACT_KEY:
        raise ConfigError(
            f"craton: host {host} has a variable named {EXACT_KEY}, which the craton backend "
            "reserves; rename it in the host's vars"
        )
    if not key or key.startswith("\n") or len(key) > NAME_LIMIT:
        raise ConfigError(
            f"craton: host {host}: variable name {key[:60]!r} cannot be stored: Craton needs "
            f"1 to {NAME_LIMIT} characters, the first not a newline"
        )


# -- deltas between two layouts -------------------------------------------------------------


def delta(old: Layout, new: Layout) -> tuple[dict[str, Any], dict[str, Any]]:
    """(undo, redo): the hosts and entries that differ, as their old and new values.

    A value of None means "absent". Applying ``redo`` to anything that equals
    ``old`` outside the listed names gives ``new``; ``undo`` does the reverse.
    """
    undo: dict[str, Any] = {"hosts": {}, "entries": {}}
    redo: dict[str, Any] = {"hosts": {}, "entries": {}}
    for part, before, after in (
        ("hosts", old.hosts, new.hosts),
        ("entries", old.entries, new.entries),
    ):
        for name in before.keys() | after.keys():
            a, b = before.get(name), after.get(name)
            if a is None or b is None or canonical(a) != canonical(b):
                undo[part][name] = a
                redo[part][name] = b
    return undo, redo


def overlay(layout: Layout, change: Mapping[str, Any]) -> Layout:
    """``layout`` with the hosts and entries of a delta replaced (None: removed)."""
    hosts = dict(layout.hosts)
    entries = dict(layout.entries)
    for part, target in (("hosts", hosts), ("entries", entries)):
        values = change.get(part)
        if not isinstance(values, dict):
            raise StoreCorrupt(f"craton: a recorded change has no {part} object")
        for name, value in values.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
    return Layout(hosts, entries)


def touched(change: Mapping[str, Any]) -> Iterable[str]:
    """The hosts a delta names."""
    return (change.get("hosts") or {}).keys()
