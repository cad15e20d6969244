"""Build an inventory from user config, skeleton and the previous inventory.

The work is linear in the number of hosts: every pass walks each host, container
or group a bounded number of times, using indexes instead of scanning the
whole inventory per host as OSA's generator does.

Passes, in order:

1. start from a copy of the previous inventory (names and addresses are kept);
2. physical hosts from the config groups, then the skeleton's groups;
3. walk ``container_skel`` (type -> component -> container group -> host) to
   collect the *placements*, in that order;
4. per host, create missing containers; then, walking the placements in the
   order of step 3 (OSA's order, which group member lists keep), set group
   memberships and ``container_vars``;
5. provider networks: addresses and ``container_networks``;
6. ``lxc_hosts`` and the variables every host must carry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from osa_inventory.errors import GenerationError
from osa_inventory.generate.addresses import (
    AddressPool,
    TakenAddresses,
    load_used_ips,
    parse_address,
    reserve_all,
)
from osa_inventory.generate.naming import (
    MAX_CONTAINER_PREFIX,
    MAX_HOSTNAME,
    belongs_to_prefix,
    container_prefix,
    group_name,
    host_containers_group,
    new_container_name,
    physical_group_for,
    stored_group_name,
)
from osa_inventory.generate.skeleton import ContainerType, Skeleton
from osa_inventory.generate.userconfig import ConfigView, ProviderNetwork
from osa_inventory.inventory import check_shape, copy_json

REQUIRED_HOSTVARS = (
    "properties",
    "ansible_host",
    "physical_host_group",
    "management_address",
    "container_name",
    "container_networks",
    "physical_host",
    "component",
)
DEFAULT_CONTAINER_TECH = "lxc"


class Group:
    """A group under construction: ordered sets of children and hosts."""

    __slots__ = ("children", "extra", "hosts")

    def __init__(self, with_children: bool) -> None:
        self.children: dict[str, None] | None = {} if with_children else None
        self.hosts: dict[str, None] = {}
        self.extra: dict[str, Any] = {}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Group:
        group = cls(with_children="children" in stored)
        for key, value in stored.items():
            if key == "hosts" and isinstance(value, list):
                group.hosts.update(dict.fromkeys(value))
            elif key == "children" and isinstance(value, list):
                group.children = dict.fromkeys(value)
            else:
                group.extra[key] = value
        return group

    def merge(self, other: Group) -> None:
        self.hosts.update(other.hosts)
        if other.children is not None:
            if self.children is None:
                self.children = {}
            self.children.update(other.children)
        self.extra.update(other.extra)

    def add_child(self, name: str) -> None:
        if self.children is None:
            self.children = {}
        self.children[name] = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = dict(self.extra)
        if self.children is not None:
            result["children"] = list(self.children)
        result["hosts"] = list(self.hosts)
        return result


@dataclass(frozen=True)
class Placement:
    """Container type ``ctype`` serving ``component`` on a host of ``host_group``."""

    ctype: ContainerType
    component: str
    container_group: str  # e.g. compute_infra_containers
    host_group: str  # e.g. compute_infra_hosts
    metal: bool
    affinity: int

    @cached_property
    def type_part_length(self) -> int:
        """How much a container adds to the host name: ``-<type>`` (see container_prefix)."""
        return len(container_prefix("", self.ctype.name))

    @cached_property
    def all_group(self) -> str:
        """The ``*_all`` group of its container group, e.g. ``compute_all``."""
        return physical_group_for(self.container_group, "all")


@dataclass
class GenerationResult:
    """The new inventory and what the operator should hear about."""

    inventory: dict[str, Any]
    warnings: list[str] = field(default_factory=list)  # unknown_groups' warnings included
    unknown_groups: list[str] = field(default_factory=list)  # top-level config keys, as written


class InventoryBuilder:
    """One generation run. Use :func:`osa_inventory.generate.generate`."""

    def __init__(
        self,
        config: ConfigView,
        skeleton: Skeleton,
        previous: Mapping[str, Any] | None,
        previous_checked: bool = False,
    ) -> None:
        self.config = config
        self.skeleton = skeleton
        self.previous = previous or {}
        self.previous_checked = previous_checked
        self.warnings: list[str] = []
        self.hostvars: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, Group] = {}
        self.other_keys: dict[str, Any] = {}
        self.taken = TakenAddresses()
        self.containers_on: dict[str, list[str]] = {}
        self.configured = config.host_ip  # host -> ip, every host the config lists

    # -- entry point --

    def build(self) -> GenerationResult:
        unknown = self.config.unknown_keys(self.skeleton.known)
        self.warnings.extend(message for _, message in unknown)
        self._load_previous()
        self._reserve_addresses()
        self._add_physical_hosts()
        self._add_skeleton_groups()
        placements = self._collect_placements()
        by_host: dict[str, list[Placement]] = {}
        for host, placement in placements:
            by_host.setdefault(host, []).append(placement)
        containers = {host: self._create_containers(host, own) for host, own in by_host.items()}
        self._add_memberships(placements, containers)
        self._link_nested_groups()
        self._assign_networks()
        self._finish_hostvars()
        self._warn_about_removed_hosts()
        return GenerationResult(
            inventory=self._assemble(),
            warnings=self.warnings,
            unknown_groups=[key for key, _ in unknown],
        )

    # -- pass 1: previous inventory --

    def _load_previous(self) -> None:
        previous = self.previous
        if not self.previous_checked:
            check_shape(previous, "the previous inventory")
        meta = previous.get("_meta") or {}
        self.hostvars = copy_json(meta.get("hostvars") or {})
        for key, value in previous.items():
            if key in ("_meta", "all"):
                continue
            if isinstance(value, dict) and ("hosts" in value or "children" in value):
                group = Group.from_stored(copy_json(value))
                name = stored_group_name(key)
                if name in self.groups:
                    self.groups[name].merge(group)
                else:
                    self.groups[name] = group
            else:
                self.other_keys[key] = copy_json(value)
        for name, hostvars in self.hostvars.items():
            physical = hostvars.get("physical_host")
            if physical and physical != name:
                self.containers_on.setdefault(physical, []).append(name)

    def _group(self, name: str, with_children: bool = True) -> Group:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(with_children)
        return group

    # -- addresses --

    def _reserve_addresses(self) -> None:
        config = self.config
        load_used_ips(config.data.get("used_ips"), self.taken, config.where("used_ips"))
        for host, ip in config.host_ip.items():
            with contextlib.suppress(GenerationError):  # a DNS name reserves nothing
                self.taken.add(parse_address(ip, f"host {host} ip"))
        management_ips = [
            entry.get("management_ip")
            for hosts in config.host_groups.values()
            for entry in hosts.values()
        ]
        reserve_all(self.taken, management_ips)
        reserve_all(
            self.taken,
            (
                network.get("address")
                for hostvars in self.hostvars.values()
                for network in (hostvars.get("container_networks") or {}).values()
                if isinstance(network, dict)
            ),
        )
        self.pools = {
            name: AddressPool(name, cidr, self.taken, config.where("cidr_networks"))
            for name, cidr in config.cidr_networks.items()
            if cidr is not None
        }

    # -- pass 2: physical hosts and skeleton groups --

    def _add_physical_hosts(self) -> None:
        for group_key, hosts in self.config.host_groups.items():
            group = self._group(group_key, with_children=False)
            for host, entry in hosts.items():
                hostvars = self.hostvars.setdefault(host, {})
                ip = entry["ip"]
                hostvars.update(
                    {
                        "ansible_host": ip,
                        "management_address": entry.get("management_ip", ip),
                        "is_metal": True,
                        "physical_host_group": group_key,
                    }
                )
                properties = hostvars.get("properties")
                if not properties or not isinstance(properties, dict):
                    properties = hostvars["properties"] = {}
                properties["is_metal"] = True
                host_vars = entry.get("host_vars")
                if isinstance(host_vars, dict):
                    hostvars.update(copy_json(host_vars))
                group.hosts[host] = None

    def _add_skeleton_groups(self) -> None:
        for key, parents in self.skeleton.group_keys():
            if key not in self.groups:
                self.groups[key] = Group(with_children=not key.endswith("container"))
            for parent in parents:
                if parent not in self.groups:
                    self.groups[parent] = Group(with_children=True)
        for key, parents in self.skeleton.physical.items():
            for parent in parents:
                if parent in self.config.host_groups:
                    raise GenerationError(
                        f"{self.config.where(parent)}: group {parent} has the child group {key} "
                        "in env.d but also lists hosts in the user config; a group holds hosts "
                        f"or groups, not both: move the hosts to a group such as {key}"
                    )
        for section in ("physical_skel", "component_skel"):
            for key, parents in self.skeleton.sections[section].items():
                for parent in parents:
                    self.groups[parent].add_child(key)

    # -- pass 3: placements --

    def _collect_placements(self) -> list[tuple[str, Placement]]:
        """Every (host, placement), in OSA's order: type, component, container group, host.

        Placements are immutable and shared: hosts with the same settings get the same one.
        """
        config = self.config
        global_no_containers = config.no_containers
        placements: list[tuple[str, Placement]] = []
        for ctype in self.skeleton.container_types:
            for parent in ctype.belongs_to:
                self.groups[parent].add_child(ctype.name)
            is_metal = ctype.is_metal
            for component in ctype.contains:
                self._group(component)
                for container_group in ctype.belongs_to:
                    host_group = physical_group_for(container_group, "hosts")
                    hosts = config.host_groups.get(host_group)
                    if not hosts:
                        continue
                    shared: dict[tuple[bool, int], Placement] = {}
                    for host, entry in hosts.items():
                        metal = is_metal or bool(entry.get("no_containers", global_no_containers))
                        affinity = (
                            1
                            if "affinity" not in entry
                            else self._affinity(host_group, host, entry, ctype.name)
                        )
                        placement = shared.get((metal, affinity))
                        if placement is None:
                            placement = shared[metal, affinity] = Placement(
                                ctype=ctype,
                                component=component,
                                container_group=container_group,
                                host_group=host_group,
                                metal=metal,
                                affinity=affinity,
                            )
                        self._check_name_length(host, placement)
                        placements.append((host, placement))
        return placements

    def _affinity(self, group: str, host: str, entry: Mapping[str, Any], ctype: str) -> int:
        """How many containers of ``ctype`` the host wants (``affinity``; default 1)."""
        affinity = entry.get("affinity")
        if affinity is None:
            return 1
        where = f"{self.config.where(group)}: {group}.{host}.affinity"
        if not isinstance(affinity, dict):
            raise GenerationError(
                f"{where} must map container types to counts, e.g. 'galera_container: 3'"
            )
        count = affinity.get(ctype, 1)
        if count is None:
            return 1
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise GenerationError(f"{where}.{ctype} = {count!r} must be a whole number, 0 or more")
        return count

    def _check_name_length(self, host: str, placement: Placement) -> None:
        if len(host) + placement.type_part_length <= MAX_CONTAINER_PREFIX:
            return  # the common case: even with a container it is short enough
        where = self.config.where(placement.host_group)
        if not placement.metal:
            prefix = container_prefix(host, placement.ctype.name)
            if len(prefix) > MAX_CONTAINER_PREFIX:
                raise GenerationError(
                    f"{where}: {placement.host_group}.{host}: container name prefix '{prefix}' is "
                    f"longer than {MAX_CONTAINER_PREFIX} characters, so the container's hostname "
                    "would exceed 63; use a shorter host name (under 20 characters is advised)"
                )
        elif len(host) > MAX_HOSTNAME:
            raise GenerationError(
                f"{where}: {placement.host_group}.{host}: host name is longer than "
                f"{MAX_HOSTNAME} characters; use a shorter host name"
            )

    # -- pass 4: containers, memberships, container_vars --

    def _existing_containers(self, host: str, ctype: ContainerType) -> list[str]:
        members = self.groups[ctype.name].hosts
        return [
            name
            for name in self.containers_on.get(host, [])
            if name in members and belongs_to_prefix(name, host, ctype.name)
        ]

    def _create_containers(self, host: str, placements: list[Placement]) -> dict[str, list[str]]:
        """The host's containers per container type, creating those missing."""
        physical = self.hostvars[host]
        physical["container_types"] = host_containers_group(host)
        physical["physical_host"] = host
        physical["container_name"] = host
        metal = [p for p in placements if p.metal]
        if metal:
            self._settle_physical_role(host, physical, metal)

        containers: dict[str, list[str]] = {}
        for placement in placements:
            if placement.metal:
                continue
            ctype = placement.ctype
            names = containers.get(ctype.name)
            if names is None:
                names = containers[ctype.name] = self._existing_containers(host, ctype)
            while len(names) < placement.affinity:
                names.append(self._new_container(host, placement, len(names)))
        return containers

    def _add_memberships(
        self, placements: list[tuple[str, Placement]], containers: dict[str, dict[str, list[str]]]
    ) -> None:
        """Group members and ``container_vars``, placement by placement.

        Walking all placements in one order (not host by host) gives every group
        OSA's member order: in ``shared_infra_all`` the galera containers of all
        hosts come before their memcached containers. In each ``*_all`` group and
        component group a physical host comes before its containers.

        OSA's group logic follows the physical host's component as metal
        placements update it; at the fixed point the walk starts from the final
        value. Limited container_vars depend on it.
        """
        current_component = {host: self.hostvars[host].get("component") for host in containers}
        for host, placement in placements:
            all_group = self._group(placement.all_group, False)
            component = placement.component
            component_group = self._group(component)
            if placement.metal:
                current_component[host] = component
            if current_component[host] == component:
                component_group.hosts[host] = None
            all_group.hosts[host] = None
            for name in containers[host].get(placement.ctype.name, ()):
                component_group.hosts[name] = None
                all_group.hosts[name] = None
            container_vars = self.config.entry(placement.host_group, host).get("container_vars")
            if isinstance(container_vars, dict) and container_vars:
                physical = self.hostvars[host]
                self._apply_container_vars(container_vars, physical, current_component[host])
                for name in self.containers_on.get(host, []):
                    hostvars = self.hostvars[name]
                    self._apply_container_vars(container_vars, hostvars, hostvars.get("component"))

    def _settle_physical_role(
        self, host: str, physical: dict[str, Any], metal: list[Placement]
    ) -> None:
        """``component`` and ``physical_host_group`` of a host that runs services on metal.

        A stored value is kept while it is still one of the host's metal roles;
        otherwise the last metal role in skeleton order is taken. This makes an
        adopted OSA inventory come out unchanged whatever order OSA read env.d in.
        """
        ip = self.configured[host]
        physical["ansible_host"] = ip
        physical["management_address"] = ip
        components = {p.component for p in metal}
        host_groups = {p.host_group for p in metal}
        stored = self.previous_hostvars(host)
        component = stored.get("component")
        physical["component"] = component if component in components else metal[-1].component
        group = stored.get("physical_host_group")
        physical["physical_host_group"] = group if group in host_groups else metal[-1].host_group

    def previous_hostvars(self, host: str) -> Mapping[str, Any]:
        meta = self.previous.get("_meta") or {}
        return (meta.get("hostvars") or {}).get(host) or {}

    def _new_container(self, host: str, placement: Placement, index: int) -> str:
        ctype = placement.ctype
        name = new_container_name(host, ctype.name, index, self.hostvars)
        self.hostvars[name] = {
            "ansible_host": None,
            "management_address": None,
            "container_name": name,
            "physical_host": host,
            "physical_host_group": placement.host_group,
            "component": placement.component,
            "properties": copy_json(ctype.properties),
        }
        self.groups[ctype.name].hosts[name] = None
        self._group(host_containers_group(host), with_children=False).hosts[name] = None
        self.containers_on.setdefault(host, []).append(name)
        return name

    @staticmethod
    def _apply_container_vars(
        container_vars: Mapping[str, Any], hostvars: dict[str, Any], component: str | None
    ) -> None:
        for key, value in container_vars.items():
            limit = None
            if isinstance(value, dict) and "limit_container_types" in value:
                value = dict(value)
                limit = value.pop("limit_container_types")
            if limit is None or (component and str(limit) in component):
                hostvars[key] = value

    def _link_nested_groups(self) -> None:
        for ctype in self.skeleton.container_types:
            if not ctype.is_nest:
                continue
            host_group = physical_group_for(ctype.name, "hosts")
            for host in self.config.host_groups.get(host_group, {}):
                nested = host_containers_group(host)
                if nested in self.groups:
                    self.groups[ctype.name].add_child(nested)

    # -- pass 5: networks --

    def _hosts_under(self, group: str) -> list[str]:
        """Hosts of ``group`` and, recursively, of its children (children first)."""
        ordered: dict[str, None] = {}
        seen: set[str] = set()
        stack: list[tuple[str, bool]] = [(group, False)]
        while stack:
            name, expanded = stack.pop()
            current = self.groups.get(name)
            if current is None:
                continue
            if expanded:
                ordered.update(current.hosts)
                continue
            if name in seen:
                continue
            seen.add(name)
            stack.append((name, True))
            for child in reversed(list(current.children or ())):
                stack.append((child, False))
        return list(ordered)

    def _group_named(self, name: str) -> str:
        """A group named in the config: as written if it exists (``aio-1_host_containers``),
        else with ``-`` read as ``_`` (``shared-infra_hosts``)."""
        return name if name in self.groups else group_name(name)

    def _assign_networks(self) -> None:
        for network in self.config.provider_networks:
            pool = self.pools.get(network.queue) if network.queue else None
            reference = network.spec.get("reference_group")
            allowed: dict[str, None] | None = None
            if reference:
                ref_group = self._group_named(str(reference))
                if ref_group not in self.groups:
                    raise GenerationError(
                        f"{self.config.where('global_overrides')}: provider_networks"
                        f"[{network.index}] has reference_group '{reference}', which is not a "
                        "group; fix the name"
                    )
                allowed = dict.fromkeys(self._hosts_under(ref_group))
            done: set[str] = set()
            for bind_group in network.bind_groups:
                for name in self._hosts_under(self._group_named(bind_group)):
                    if name in done:
                        continue
                    done.add(name)
                    hostvars = self.hostvars.get(name)
                    if hostvars is None:
                        continue
                    physical = hostvars.get("physical_host") or name
                    if physical not in self.configured:
                        continue  # a host removed from the config keeps what it has
                    if allowed is not None and hostvars.get("physical_host") not in allowed:
                        continue
                    self._connect(name, hostvars, network, pool)

    def _connect(
        self,
        name: str,
        hostvars: dict[str, Any],
        network: ProviderNetwork,
        pool: AddressPool | None,
    ) -> None:
        key = network.address_key
        properties = hostvars.get("properties") or {}
        is_metal = (
            bool(properties.get("is_metal", False)) if isinstance(properties, dict) else False
        )
        networks = hostvars.get("container_networks")
        if not isinstance(networks, dict):
            networks = hostvars["container_networks"] = {}
        settings = network.link_settings(is_metal)
        netmask = pool.netmask if pool else None
        existing = networks.get(key)
        if isinstance(existing, dict):
            existing.update(settings)
        if is_metal:
            entry = networks[key] = settings
            entry["netmask"] = netmask
            if network.is_management:
                config_entry = self._config_entry(name, hostvars)
                host_address = config_entry["ip"]
                entry["address"] = config_entry.get("management_ip", host_address)
        elif not isinstance(existing, dict):
            entry = networks[key] = settings
            legacy = hostvars.pop(key, None)
            if legacy:
                entry["address"] = legacy
            elif pool is not None:
                entry["address"] = pool.allocate(name)
            entry["netmask"] = netmask
            host_address = entry.get("address")
        else:
            entry = existing
            host_address = entry.get("address")
        if network.is_management:
            hostvars["ansible_host"] = host_address
            hostvars["management_address"] = entry.get("address")
        gateway = network.gateway
        if gateway:
            hostvars["gateway"] = gateway
            entry["gateway"] = gateway
        routes = network.static_routes
        if routes:
            entry["static_routes"] = copy_json(routes)

    def _config_entry(self, name: str, hostvars: Mapping[str, Any]) -> Mapping[str, Any]:
        """The config entry that describes a metal host, from its physical_host_group."""
        physical = hostvars.get("physical_host") or name
        group = self.config.host_groups.get(hostvars.get("physical_host_group") or "", {})
        entry = group.get(name) or group.get(physical)
        if entry is None:  # stored group no longer lists it: any group that does
            entry = next(h[physical] for h in self.config.host_groups.values() if physical in h)
        return entry

    # -- pass 6: finishing --

    def _finish_hostvars(self) -> None:
        lxc_hosts: dict[str, None] = {}
        container_properties = {
            ctype.name: ctype.properties for ctype in self.skeleton.container_types
        }
        for ctype_name, properties in container_properties.items():
            if not properties:
                continue
            for name in self.groups[ctype_name].hosts:
                hostvars = self.hostvars.get(name)
                if hostvars is not None and "properties" not in hostvars:
                    hostvars["properties"] = copy_json(properties)
        for name, hostvars in self.hostvars.items():
            physical = hostvars.get("physical_host")
            tech = hostvars.setdefault("container_tech", DEFAULT_CONTAINER_TECH)
            if physical and name != physical and tech == DEFAULT_CONTAINER_TECH:
                lxc_hosts[physical] = None
            hostvars.setdefault("container_name", name)
            for required in REQUIRED_HOSTVARS:
                if required not in hostvars:
                    hostvars[required] = {} if required == "container_networks" else None
            owner = physical or name
            if owner in self.configured:
                hostvars["physical_host_addr"] = self.configured[owner]
        # Rebuilt every run, but in a stable order: stored members first.
        stored = self.groups.get("lxc_hosts")
        kept = [h for h in stored.hosts if h in lxc_hosts] if stored else []
        rebuilt = self.groups["lxc_hosts"] = Group(with_children=False)
        rebuilt.hosts = dict.fromkeys(kept)
        rebuilt.hosts.update(lxc_hosts)

    def _warn_about_removed_hosts(self) -> None:
        for name, hostvars in self.hostvars.items():
            if hostvars.get("is_metal") and name not in self.configured:
                self.warnings.append(
                    f"host {name} is in the stored inventory but no longer in the user config; "
                    f"it and its containers were kept. To remove it run: "
                    f"osa-inventory-manage -r {name}"
                )

    def _assemble(self) -> dict[str, Any]:
        all_vars = copy_json((self.previous.get("all") or {}).get("vars") or {})
        all_vars["container_cidr"] = self.config.container_cidr
        overrides = self.config.overrides
        if overrides is not None:
            all_vars = {"container_cidr": all_vars["container_cidr"], **copy_json(overrides)}
        inventory: dict[str, Any] = dict(self.other_keys)
        previous_all = self.previous.get("all")
        all_group = dict(previous_all) if isinstance(previous_all, dict) else {}
        all_group["vars"] = all_vars
        inventory["all"] = all_group
        for name, group in self.groups.items():
            inventory[name] = group.to_json()
        inventory["_meta"] = {"hostvars": self.hostvars}
        return inventory
