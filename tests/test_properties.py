"""Property-based tests on random small deployments (Python API, OSA's base env.d).

Each deployment follows examples/prod's layout: its provider networks, infra hosts in
every infra group (with prod's container_vars) and compute hosts in the compute groups,
with random host names, host IPs from a /24 management network and random used_ips.
"""

from __future__ import annotations

import copy
import ipaddress
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    address_problems,
    example_config,
    generate_from,
    group_memberships,
    host_groups,
    require_shared_dir,
)

pytestmark = pytest.mark.usefixtures("shared_dir")

# OSA_HYPOTHESIS_EXAMPLES raises the count for a longer local search
SETTINGS = settings(
    max_examples=int(os.environ.get("OSA_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NETWORKS = {
    "management": ipaddress.ip_network("172.29.236.0/24"),
    "tunnel": ipaddress.ip_network("172.29.240.0/24"),
    "storage": ipaddress.ip_network("172.29.244.0/24"),
}

_TEMPLATE: dict[str, Any] = {}


def _template() -> dict[str, Any]:
    """prod's config split into settings and per-role host group entries."""
    if not _TEMPLATE:
        require_shared_dir()
        prod = example_config("prod")
        _TEMPLATE["settings"] = {k: v for k, v in prod.items() if not k.endswith("hosts")}
        _TEMPLATE["infra"] = {g: prod[g]["infra1"] for g in host_groups(prod, "infra1")}
        _TEMPLATE["compute"] = {g: prod[g]["compute1"] for g in host_groups(prod, "compute1")}
    return copy.deepcopy(_TEMPLATE)


def _offsets_to_ip(network: ipaddress.IPv4Network, offset: int) -> str:
    return str(network.network_address + offset)


@st.composite
def used_ip_entries(draw, network: ipaddress.IPv4Network) -> list[str]:
    """0-3 ranges (each at most 30 addresses) and 0-3 single addresses in ``network``."""
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        first = draw(st.integers(1, 250))
        last = min(254, first + draw(st.integers(0, 29)))
        if draw(st.booleans()):
            first, last = last, first  # reversed ranges are accepted too
        entries.append(f"{_offsets_to_ip(network, first)},{_offsets_to_ip(network, last)}")
    for offset in draw(st.lists(st.integers(1, 254), max_size=3)):
        entries.append(_offsets_to_ip(network, offset))
    return entries


@st.composite
def deployments(draw) -> dict[str, Any]:
    """A random small deployment config."""
    template = _template()
    n_infra = draw(st.integers(1, 4))
    n_compute = draw(st.integers(0, 6))
    # numbers from a small range so that names like infra1 and infra10 can meet
    infra_ids = draw(st.lists(st.integers(1, 12), min_size=n_infra, max_size=n_infra, unique=True))
    compute_ids = draw(
        st.lists(st.integers(1, 12), min_size=n_compute, max_size=n_compute, unique=True)
    )
    management = NETWORKS["management"]
    ip_offsets = draw(
        st.lists(
            st.integers(1, 254),
            min_size=n_infra + n_compute,
            max_size=n_infra + n_compute,
            unique=True,
        )
    )
    ips = iter(_offsets_to_ip(management, o) for o in ip_offsets)
    config = template["settings"]
    config["cidr_networks"] = {name: str(net) for name, net in NETWORKS.items()}
    used: list[str] = []
    for network in NETWORKS.values():
        used.extend(draw(used_ip_entries(network)))
    config["used_ips"] = used
    for number in infra_ids:
        ip = next(ips)
        for group, entry in template["infra"].items():
            config.setdefault(group, {})[f"infra{number}"] = {**copy.deepcopy(entry), "ip": ip}
    for number in compute_ids:
        ip = next(ips)
        for group, entry in template["compute"].items():
            config.setdefault(group, {})[f"compute{number}"] = {**copy.deepcopy(entry), "ip": ip}
    return config


def _hostvars(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return inventory["_meta"]["hostvars"]


def _owned_by(inventory: dict[str, Any], host: str) -> set[str]:
    """``host`` and its containers."""
    return {
        name
        for name, hostvars in _hostvars(inventory).items()
        if name == host or hostvars.get("physical_host") == host
    }


def _all_addresses(inventory: dict[str, Any]) -> set[str]:
    found = set()
    for hostvars in _hostvars(inventory).values():
        for key in ("ansible_host", "management_address"):
            if hostvars.get(key):
                found.add(hostvars[key])
        for network in (hostvars.get("container_networks") or {}).values():
            if isinstance(network, dict) and network.get("address"):
                found.add(network["address"])
    return found


@SETTINGS
@given(config=deployments())
def test_container_addresses_are_valid(config: dict[str, Any]) -> None:
    result = generate_from(config)
    assert result.warnings == []
    inventory = result.inventory
    assert address_problems(inventory, config) == []
    # every container has a management address
    for name, hostvars in _hostvars(inventory).items():
        if hostvars.get("physical_host") not in (None, name):
            address = hostvars["container_networks"]["management_address"]["address"]
            assert ipaddress.ip_address(address) in NETWORKS["management"], name


@SETTINGS
@given(config=deployments())
def test_rerun_is_a_fixed_point_and_generation_is_deterministic(config: dict[str, Any]) -> None:
    first = generate_from(config).inventory
    assert generate_from(config).inventory == first
    snapshot = copy.deepcopy(first)
    again = generate_from(config, first)
    assert first == snapshot, "generate modified previous"
    assert again.inventory == first
    assert again.warnings == []


@SETTINGS
@given(config=deployments(), data=st.data())
def test_adding_then_removing_a_host_leaves_the_others_alone(
    config: dict[str, Any], data: st.DataObject
) -> None:
    template = _template()
    before = generate_from(config).inventory
    role = data.draw(st.sampled_from(["infra", "compute"]), label="role")
    taken_names = set(_hostvars(before))
    name = data.draw(
        st.sampled_from([f"{role}{i}" for i in range(1, 20) if f"{role}{i}" not in taken_names]),
        label="new host",
    )
    management = NETWORKS["management"]
    taken_ips = _all_addresses(before)
    free_ips = [str(ip) for ip in management.hosts() if str(ip) not in taken_ips]
    ip = data.draw(st.sampled_from(free_ips), label="new host ip")

    bigger = copy.deepcopy(config)
    for group, entry in template[role].items():
        bigger.setdefault(group, {})[name] = {**copy.deepcopy(entry), "ip": ip}
    added = generate_from(bigger, before)
    assert added.warnings == []
    assert name in _hostvars(added.inventory)
    assert address_problems(added.inventory, bigger) == []
    removed = generate_from(config, added.inventory)

    mentions = [w for w in removed.warnings if name in w]
    assert len(mentions) == 1, removed.warnings
    assert len(removed.warnings) == 1, removed.warnings
    # the removed host and its containers are kept as they were
    new_names = _owned_by(added.inventory, name)
    for owned in new_names:
        assert _hostvars(removed.inventory)[owned] == _hostvars(added.inventory)[owned], owned
    # every other host is untouched by the addition and by the removal
    assert set(_hostvars(added.inventory)) - new_names == set(_hostvars(before))
    memberships = {
        stage: {h: g for h, g in group_memberships(inv).items() if h not in new_names}
        for stage, inv in (
            ("before", before),
            ("added", added.inventory),
            ("removed", removed.inventory),
        )
    }
    for other, hostvars in _hostvars(before).items():
        assert _hostvars(added.inventory)[other] == hostvars, other
        assert _hostvars(removed.inventory)[other] == hostvars, other
    assert memberships["added"] == memberships["before"]
    assert memberships["removed"] == memberships["before"]
    # and the inventory with the kept host is stable
    assert generate_from(config, removed.inventory).inventory == removed.inventory
