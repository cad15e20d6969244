"""A validated, normalised view of ``openstack_user_config.yml`` (+ conf.d)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from osa_inventory.errors import GenerationError
from osa_inventory.generate.naming import group_name
from osa_inventory.sources import USER_CONFIG_NAME, UserConfig

# Top-level keys that are settings, not host groups.
SETTINGS_KEYS = ("global_overrides", "cidr_networks", "used_ips")
FORBIDDEN_GROUPS = ("lxc_hosts",)


@dataclass(frozen=True)
class ProviderNetwork:
    """One ``global_overrides.provider_networks[].network`` entry."""

    index: int
    spec: Mapping[str, Any]

    @property
    def queue(self) -> str | None:
        return self.spec.get("ip_from_q")

    @cached_property
    def is_management(self) -> bool:
        return bool(self.spec.get("is_management_address", self.spec.get("is_container_address")))

    @cached_property
    def gateway(self) -> Any:
        return self.spec.get("gateway")

    @cached_property
    def static_routes(self) -> Any:
        return self.spec.get("static_routes")

    @cached_property
    def address_key(self) -> str:
        """The ``container_networks`` key: ``<prefix>_address``."""
        prefix = (
            self.spec.get("address_prefix") or self.queue or self.spec.get("container_interface")
        )
        return f"{prefix}_address"

    @property
    def bind_groups(self) -> list[str]:
        """The ``group_binds`` as written (the builder resolves ``-`` and ``_``)."""
        binds = self.spec.get("group_binds") or []
        if isinstance(binds, str):  # one group written without a list
            binds = [binds]
        return [str(g) for g in binds]

    def link_settings(self, is_metal: bool) -> dict[str, Any]:
        """The per-host network entry before address and netmask (a new dict each call)."""
        return dict(self._metal_settings if is_metal else self._container_settings)

    @cached_property
    def _metal_settings(self) -> dict[str, Any]:
        return self._settings(True)

    @cached_property
    def _container_settings(self) -> dict[str, Any]:
        return self._settings(False)

    def _settings(self, is_metal: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if not is_metal:
            entry["interface"] = self.spec.get("container_interface")
        for target, source in (
            ("bridge", "container_bridge"),
            ("bridge_type", "container_bridge_type"),
            ("type", "container_type"),
            ("mtu", "container_mtu"),
        ):
            value = self.spec.get(source)
            if value:
                entry[target] = value
        return entry


class ConfigView:
    """The user config, checked and with host groups normalised.

    ``-`` in a group name is read as ``_`` and groups that then share a name are
    merged. An empty group (``foo_hosts:`` with nothing under it) is empty, not
    an error.
    """

    def __init__(self, config: UserConfig | Mapping[str, Any]) -> None:
        if isinstance(config, UserConfig):
            self.origin = config
            data: Any = config.data
        else:
            self.origin = UserConfig(data=dict(config))
            data = config
        if not isinstance(data, Mapping):
            raise GenerationError(f"{USER_CONFIG_NAME}: the top level must be a mapping")
        self.data: Mapping[str, Any] = data
        self.host_groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.host_ip: dict[str, str] = {}
        self._group_of: dict[str, str] = {}
        self._read_host_groups()
        self.cidr_networks: dict[str, Any] = self._read_cidr_networks()
        overrides = data.get("global_overrides")
        self.overrides: dict[str, Any] | None = overrides if isinstance(overrides, dict) else None
        self.provider_networks = self._read_provider_networks()
        self.container_cidr = self._find_container_cidr()

    def where(self, key: str) -> str:
        return self.origin.where(key)

    # -- host groups -----------------------------------------------------------------

    def _read_host_groups(self) -> None:
        for key, value in self.data.items():
            if not isinstance(key, str) or not key.endswith("hosts"):
                continue
            name = group_name(key)
            if name in FORBIDDEN_GROUPS:
                raise GenerationError(
                    f"{self.where(key)}: the group '{key}' must not be defined; osa-inventory "
                    "builds it from the containers, so remove it"
                )
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise GenerationError(
                    f"{self.where(key)}: {key} must map host names to settings such as "
                    "'ip: 172.29.236.11'"
                )
            group = self.host_groups.setdefault(name, {})
            for host, entry in value.items():
                self._check_host_entry(key, str(host), entry)
                group[str(host)] = entry

    def _check_host_entry(self, key: str, host: str, entry: Any) -> None:
        where = f"{self.where(key)}: {key}.{host}"
        if not isinstance(entry, dict) or "ip" not in entry:
            raise GenerationError(
                f"{where} has no 'ip'; give the host's address as 'ip: <address>'"
            )
        ip = str(entry["ip"])
        known = self.host_ip.get(host)
        if known is not None and known != ip:
            low, high = sorted((known, ip))
            raise GenerationError(
                f"{where}: host {host} has both {low} and {high}; use one address for a host "
                "in every group"
            )
        self.host_ip[host] = ip
        self._group_of.setdefault(host, key)

    def unknown_keys(self, known_groups: Collection[str]) -> list[tuple[str, str]]:
        """Top-level keys that are neither a setting nor a group in ``known_groups``.

        Returns ``(key, warning)`` pairs, in config order. The warning starts with
        OSA's wording ("Group X was found in configuration but not the
        environment") and says what happens to the key and how to fix it.
        """
        result = []
        for key in self.data:
            name = str(key)
            if name in SETTINGS_KEYS or group_name(name) in known_groups:
                continue
            import difflib  # only when a key is unknown

            close = difflib.get_close_matches(
                group_name(name), [*SETTINGS_KEYS, *known_groups], n=1, cutoff=0.8
            )
            fix = f"fix the name (did you mean {close[0]}?)" if close else "fix the name"
            if name.endswith("hosts"):
                effect = "its hosts get that group but no services"
                fix += " or define the group in env.d"
            else:
                effect = "it is ignored"
            result.append(
                (
                    name,
                    f"Group {name} was found in configuration but not the environment "
                    f"({self.where(name)}): {effect}; {fix}",
                )
            )
        return result

    def check_unique_host_ips(self) -> None:
        """One address on two hosts is an error."""
        owner: dict[str, str] = {}
        for host, ip in self.host_ip.items():
            other = owner.setdefault(ip, host)
            if other != host:
                first, second = sorted((other, host))
                raise GenerationError(
                    f"{self.where(self._group_of[second])}: hosts {first} and {second} both "
                    f"have address {ip}; "
                    "give each host its own ip"
                )

    def entry(self, group: str, host: str) -> dict[str, Any]:
        return self.host_groups[group][host]

    def groups_of(self) -> dict[str, list[str]]:
        """Host -> the config groups that list it, in config order."""
        result: dict[str, list[str]] = {}
        for group, hosts in self.host_groups.items():
            for host in hosts:
                result.setdefault(host, []).append(group)
        return result

    # -- networks --------------------------------------------------------------------

    def _read_cidr_networks(self) -> dict[str, Any]:
        networks = self.data.get("cidr_networks")
        if not networks or not isinstance(networks, dict):
            raise GenerationError(
                f"{self.where('cidr_networks')}: no cidr_networks; add a cidr_networks section "
                "with at least the management network, e.g. 'management: 172.29.236.0/22'"
            )
        return networks

    def _read_provider_networks(self) -> list[ProviderNetwork]:
        if self.overrides is None:
            return []
        networks = self.overrides.get("provider_networks") or []
        if not isinstance(networks, list):
            raise GenerationError(
                f"{self.where('global_overrides')}: global_overrides.provider_networks must be "
                "a list of '- network: {...}' entries"
            )
        result = []
        for index, item in enumerate(networks):
            spec = item.get("network") if isinstance(item, dict) else None
            if spec:
                if not isinstance(spec, dict):
                    raise GenerationError(
                        f"{self.where('global_overrides')}: provider_networks[{index}].network "
                        "must be a mapping"
                    )
                result.append(ProviderNetwork(index=index, spec=spec))
        return result

    def _find_container_cidr(self) -> str | list[str]:
        networks = self.cidr_networks
        for name in ("container", "management"):
            if name in networks:
                return networks[name]
        found = [
            networks[net.queue]
            for net in self.provider_networks
            if net.queue in networks
            and (net.spec.get("address_prefix") in ("container", "management") or net.is_management)
        ]
        if not found:
            raise GenerationError(
                f"{self.where('cidr_networks')}: no management network; name one cidr_networks "
                "entry 'management' (or mark its provider network is_management_address: true)"
            )
        return found

    @property
    def no_containers(self) -> bool:
        return bool((self.overrides or {}).get("no_containers", False))

    def check_provider_networks(self, containers_needed: bool) -> None:
        """Provider network checks, needed as soon as one service runs in a container."""
        if not containers_needed:
            return
        where = self.where("global_overrides")
        if "global_overrides" not in self.data:
            raise GenerationError(
                f"{self.where('cidr_networks')}: no global_overrides; add global_overrides with "
                "provider_networks"
            )
        if self.overrides is None or "provider_networks" not in self.overrides:
            raise GenerationError(
                f"{where}: no provider_networks under global_overrides; add the list of "
                "provider networks"
            )
        bridge = self.overrides.get("management_bridge")
        for net in self.provider_networks:
            if net.queue and net.queue not in self.cidr_networks:
                raise GenerationError(
                    f"{where}: provider_networks[{net.index}] has ip_from_q '{net.queue}', "
                    "which is not in cidr_networks; add it there or fix the name"
                )
            on_management_bridge = bridge is not None and net.spec.get("container_bridge") == bridge
            if on_management_bridge and not net.is_management:
                raise GenerationError(
                    f"{where}: provider_networks[{net.index}] uses the management bridge "
                    f"'{bridge}' but lacks 'is_management_address: true'; add it"
                )
            for route in net.spec.get("static_routes") or []:
                if not (isinstance(route, dict) and route.get("cidr") and route.get("gateway")):
                    raise GenerationError(
                        f"{where}: provider_networks[{net.index}] (queue '{net.queue}') has a "
                        "static route without both 'cidr' and 'gateway'; give both"
                    )
