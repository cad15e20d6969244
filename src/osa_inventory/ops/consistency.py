"""Consistency checks of a stored inventory, run by ``osa-inventory doctor``.

Each check returns the problems it found (empty: fine). The address checks
need the user config's ``cidr_networks`` and provider networks; without them
the CIDR check is skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osa_inventory.inventory import hostvars_of
from osa_inventory.ops.views import group_names, is_container, memberships

MAX_SHOWN = 5


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    problems: list[str] = field(default_factory=list)
    skipped: str = ""  # why the check did not run

    @property
    def status(self) -> str:
        if self.skipped:
            return "skip"
        return "FAIL" if self.problems else "ok"

    def detail(self) -> str:
        if self.skipped:
            return self.skipped
        if not self.problems:
            return self.description
        shown = "; ".join(self.problems[:MAX_SHOWN])
        more = len(self.problems) - MAX_SHOWN
        return shown + (f"; and {more} more" if more > 0 else "")


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address, or None for an empty or placeholder value (OSA writes "None")."""
    if not isinstance(value, str) or not value or value == "None":
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def check_physical_hosts(inventory: Mapping[str, Any]) -> list[str]:
    hostvars = hostvars_of(dict(inventory))
    return [
        f"container {name} is on {vars_['physical_host']}, which is not in the inventory"
        for name, vars_ in sorted(hostvars.items())
        if is_container(name, vars_) and vars_["physical_host"] not in hostvars
    ]


def _addresses(inventory: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(host, network key, address) of every address in container_networks."""
    found = []
    for name, vars_ in sorted(hostvars_of(dict(inventory)).items()):
        networks = vars_.get("container_networks")
        if not isinstance(networks, dict):
            continue
        for key, network in sorted(networks.items()):
            value = network.get("address") if isinstance(network, dict) else None
            if _address(value) is not None:
                found.append((name, key, str(value)))
    return found


def check_unique_addresses(inventory: Mapping[str, Any]) -> list[str]:
    owner: dict[tuple[str, Any], str] = {}
    problems = []
    for name, key, value in _addresses(inventory):
        ip = _address(value)
        if (key, ip) in owner:
            problems.append(f"{key} {value} is used by both {owner[key, ip]} and {name}")
        else:
            owner[key, ip] = name
    return problems


def network_cidrs(user_config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Address key (``management_address``) -> the CIDRs its addresses come from."""
    cidrs = user_config.get("cidr_networks") or {}
    overrides = user_config.get("global_overrides") or {}
    result: dict[str, list[Any]] = {}
    for item in overrides.get("provider_networks") or []:
        network = item.get("network") if isinstance(item, dict) else None
        if not isinstance(network, dict):
            continue
        prefix = (
            network.get("address_prefix")
            or network.get("ip_from_q")
            or network.get("container_interface")
        )
        queue = network.get("ip_from_q")
        if not prefix or not queue or queue not in cidrs:
            continue
        try:
            cidr = ipaddress.ip_network(str(cidrs[queue]), strict=False)
        except ValueError:
            continue
        result.setdefault(f"{prefix}_address", []).append(cidr)
    return result


def check_addresses_in_cidrs(
    inventory: Mapping[str, Any], cidrs: Mapping[str, list[Any]]
) -> list[str]:
    """Container addresses must lie in a CIDR of their network (metal hosts use their own IP)."""
    hostvars = hostvars_of(dict(inventory))
    problems = []
    for name, key, value in _addresses(inventory):
        if not is_container(name, hostvars[name]) or key not in cidrs:
            continue
        ip = _address(value)
        if not any(ip in cidr for cidr in cidrs[key]):
            inside = " or ".join(str(c) for c in cidrs[key])
            problems.append(f"{name} {key} {value} is outside {inside}")
    return problems


def check_group_references(inventory: Mapping[str, Any]) -> list[str]:
    hostvars = hostvars_of(dict(inventory))
    groups = set(group_names(inventory))
    problems = []
    for group in sorted(groups):
        for host in inventory[group].get("hosts") or []:
            if host not in hostvars:
                problems.append(f"group {group} lists host {host}, which has no hostvars")
        for child in inventory[group].get("children") or []:
            if child not in groups:
                problems.append(f"group {group} has child {child}, which is not a group")
    return problems


def check_hosts_grouped(inventory: Mapping[str, Any]) -> list[str]:
    listed = memberships(inventory)
    problems = []
    for name, vars_ in sorted(hostvars_of(dict(inventory)).items()):
        if name not in listed:
            problems.append(f"host {name} is in no group")
        elif is_container(name, vars_):
            physical = hostvars_of(dict(inventory)).get(vars_["physical_host"]) or {}
            own = physical.get("container_types")
            if own and isinstance(inventory.get(own), dict) and own not in listed[name]:
                problems.append(f"container {name} is missing from group {own}")
    return problems


def check_no_cycles(inventory: Mapping[str, Any]) -> list[str]:
    children = {
        g: [str(c) for c in inventory[g].get("children") or []] for g in group_names(inventory)
    }
    problems = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(group: str, path: list[str]) -> None:
        state[group] = 1
        for child in children.get(group, []):
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child] if child in path else [group, child]
                problems.append("groups form a cycle: " + " -> ".join(cycle))
            elif child in children and not state.get(child):
                visit(child, [*path, child])
        state[group] = 2

    for group in sorted(children):
        if not state.get(group):
            visit(group, [group])
    return problems


Check = Callable[[Mapping[str, Any]], list[str]]
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("physical hosts", "every container's physical host exists", check_physical_hosts),
    ("unique addresses", "no address is used twice on a network", check_unique_addresses),
    ("group members", "groups list only existing hosts and groups", check_group_references),
    ("host groups", "every host is in a group, containers in their host's", check_hosts_grouped),
    ("group cycles", "no group is its own descendant", check_no_cycles),
)


def check_inventory(
    inventory: Mapping[str, Any], cidrs: Mapping[str, list[Any]] | None, why_no_cidrs: str = ""
) -> list[CheckResult]:
    """Run every check; the CIDR check only when ``cidrs`` (from the user config) is given."""
    results = [CheckResult(n, d, problems=check(inventory)) for n, d, check in CHECKS]
    cidr_check = "addresses in CIDRs"
    description = "container addresses lie in their cidr_networks"
    if cidrs is None:
        results.insert(2, CheckResult(cidr_check, description, skipped=why_no_cidrs))
    else:
        problems = check_addresses_in_cidrs(inventory, cidrs)
        results.insert(2, CheckResult(cidr_check, description, problems=problems))
    return results


__all__ = ["CHECKS", "CheckResult", "check_inventory", "network_cidrs"]
