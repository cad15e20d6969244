#!/usr/bin/env python3
"""Generate a production-shaped OpenStack-Ansible deployment of any size.

The layout follows OSA's shipped "prod" example: a set of infrastructure
hosts that carry every control-plane group, dedicated network gateway hosts,
block-storage hosts and compute hosts, three provider networks
(management, tunnel, storage) plus two VLAN/flat networks without address
pools. Only the sizes are scaled:

    infra hosts    max(3, 3 per 1,000 computes)
    network hosts  max(3, computes / 200)
    storage hosts  max(1, computes / 50)

Every network is a /16, so even 10,000+ computes leave plenty of room for
container addresses. Host addresses are handed out sequentially on the
management network and never collide.

Usage::

    python -m osa_inventory.testing.deployment --computes 1000 --out /tmp/deploy
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

MANAGEMENT_CIDR = "10.16.0.0/16"
TUNNEL_CIDR = "10.17.0.0/16"
STORAGE_CIDR = "10.18.0.0/16"

# The first addresses of every network are reserved for routers, VIPs and the
# like (used_ips); physical hosts are numbered from HOST_IP_OFFSET onwards.
RESERVED_PER_NETWORK = 50
HOST_IP_OFFSET = 100

INTERNAL_VIP_OFFSET = 9
NFS_SERVER_OFFSET = 15

# Groups that every infrastructure host belongs to, in prod example order.
INFRA_GROUPS = (
    "shared_infra_hosts",
    "coordination_hosts",
    "repo_infra_hosts",
    "load_balancer_hosts",
    "identity_hosts",
    "storage_infra_hosts",
    "image_hosts",
    "placement_infra_hosts",
    "compute_infra_hosts",
    "orchestration_hosts",
    "dashboard_hosts",
    "network_infra_hosts",
    "network_northd_hosts",
    "metering_infra_hosts",
    "metering_alarm_hosts",
    "metrics_hosts",
)
NETWORK_GROUPS = ("network_gateway_hosts",)
COMPUTE_GROUPS = ("compute_hosts", "metering_compute_hosts")
STORAGE_GROUPS = ("storage_hosts",)


@dataclass(frozen=True)
class Sizes:
    """How many physical hosts of each role a deployment has."""

    computes: int
    infra: int
    network: int
    storage: int

    @classmethod
    def for_computes(cls, computes: int) -> Sizes:
        if computes < 0:
            raise ValueError("computes must be >= 0")
        return cls(
            computes=computes,
            infra=max(3, 3 * computes // 1000),
            network=max(3, computes // 200),
            storage=max(1, computes // 50),
        )

    @property
    def hosts(self) -> int:
        return self.computes + self.infra + self.network + self.storage


def _nth(cidr: str, n: int) -> str:
    """The n-th address of ``cidr`` (0 is the network address)."""
    net = ipaddress.ip_network(cidr)
    if not 0 < n < net.num_addresses - 1:
        raise ValueError(f"{cidr} has no host address number {n}")
    return str(net.network_address + n)


def _provider_networks() -> list[dict]:
    return [
        {
            "network": {
                "container_bridge": "br-mgmt",
                "container_type": "veth",
                "container_interface": "eth1",
                "ip_from_q": "management",
                "type": "raw",
                "group_binds": ["all_containers", "hosts"],
                "is_management_address": True,
            }
        },
        {
            "network": {
                "container_bridge": "br-vxlan",
                "container_type": "veth",
                "container_interface": "eth10",
                "ip_from_q": "tunnel",
                "type": "geneve",
                "range": "1:1000",
                "net_name": "geneve",
                "group_binds": ["neutron_ovn_controller"],
            }
        },
        {
            "network": {
                "container_bridge": "br-vlan",
                "container_type": "veth",
                "container_interface": "eth12",
                "host_bind_override": "eth12",
                "type": "flat",
                "net_name": "physnet1",
                "group_binds": ["neutron_ovn_controller"],
            }
        },
        {
            "network": {
                "container_bridge": "br-vlan",
                "container_type": "veth",
                "container_interface": "eth11",
                "type": "vlan",
                "range": "101:200,301:400",
                "net_name": "physnet2",
                "group_binds": ["neutron_ovn_controller"],
            }
        },
        {
            "network": {
                "container_bridge": "br-storage",
                "container_type": "veth",
                "container_interface": "eth2",
                "ip_from_q": "storage",
                "type": "raw",
                "group_binds": ["glance_api", "cinder_api", "cinder_volume", "nova_compute"],
            }
        },
    ]


def build_config(computes: int) -> dict:
    """Return the ``openstack_user_config.yml`` content for ``computes`` computes."""
    sizes = Sizes.for_computes(computes)
    mgmt = ipaddress.ip_network(MANAGEMENT_CIDR)
    if HOST_IP_OFFSET + sizes.hosts >= mgmt.num_addresses - 1:
        raise ValueError(f"{sizes.hosts} hosts do not fit in {MANAGEMENT_CIDR}")

    next_ip = HOST_IP_OFFSET

    def hosts(prefix: str, count: int) -> list[tuple[str, str]]:
        nonlocal next_ip
        out = []
        for i in range(1, count + 1):
            out.append((f"{prefix}{i}", _nth(MANAGEMENT_CIDR, next_ip)))
            next_ip += 1
        return out

    infra = hosts("infra", sizes.infra)
    network = hosts("net", sizes.network)
    storage = hosts("storage", sizes.storage)
    compute = hosts("compute", sizes.computes)

    nfs_server = _nth(STORAGE_CIDR, NFS_SERVER_OFFSET)

    config: dict = {
        "cidr_networks": {
            "management": MANAGEMENT_CIDR,
            "tunnel": TUNNEL_CIDR,
            "storage": STORAGE_CIDR,
        },
        "used_ips": [
            f"{_nth(cidr, 1)},{_nth(cidr, RESERVED_PER_NETWORK)}"
            for cidr in (MANAGEMENT_CIDR, TUNNEL_CIDR, STORAGE_CIDR)
        ],
        "global_overrides": {
            "internal_lb_vip_address": _nth(MANAGEMENT_CIDR, INTERNAL_VIP_OFFSET),
            "external_lb_vip_address": "cloud.bench.example.org",
            "management_bridge": "br-mgmt",
            "provider_networks": _provider_networks(),
        },
    }

    for group in INFRA_GROUPS:
        members = {}
        for name, ip in infra:
            entry: dict = {"ip": ip}
            if group == "image_hosts":
                # Images on a shared NFS export, only for the glance containers.
                entry["container_vars"] = {
                    "limit_container_types": "glance",
                    "glance_remote_client": [
                        {
                            "what": f"{nfs_server}:/srv/images",
                            "where": "/var/lib/glance/images",
                            "type": "nfs",
                            "options": "_netdev,auto",
                        }
                    ],
                }
            members[name] = entry
        config[group] = members

    for group in NETWORK_GROUPS:
        config[group] = {name: {"ip": ip} for name, ip in network}

    for group in COMPUTE_GROUPS:
        config[group] = {name: {"ip": ip} for name, ip in compute}

    for group in STORAGE_GROUPS:
        config[group] = {
            name: {
                "ip": ip,
                "container_vars": {
                    "cinder_backends": {
                        "limit_container_types": "cinder_volume",
                        "lvm": {
                            "volume_backend_name": "LVM_ISCSI",
                            "volume_driver": "cinder.volume.drivers.lvm.LVMVolumeDriver",
                            "volume_group": "cinder-volumes",
                        },
                    }
                },
            }
            for name, ip in storage
        }

    return config


def write_config(computes: int, out: Path) -> Sizes:
    """Write ``out/openstack_user_config.yml`` and return the host counts."""
    config = build_config(computes)
    out.mkdir(parents=True, exist_ok=True)
    sizes = Sizes.for_computes(computes)
    header = (
        "---\n"
        f"# Generated by osa_inventory.testing.deployment --computes {computes}\n"
        f"# {sizes.infra} infra, {sizes.network} network, {sizes.storage} storage, "
        f"{sizes.computes} compute hosts\n"
    )
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(config, Dumper=dumper, sort_keys=False, default_flow_style=False)
    (out / "openstack_user_config.yml").write_text(header + body, encoding="utf-8")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computes", type=int, required=True, help="number of compute hosts")
    parser.add_argument("--out", type=Path, required=True, help="deployment dir to write")
    args = parser.parse_args(argv)
    try:
        sizes = write_config(args.computes, args.out)
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"{args.out / 'openstack_user_config.yml'}: {sizes.hosts} hosts "
        f"({sizes.infra} infra, {sizes.network} network, {sizes.storage} storage, "
        f"{sizes.computes} compute)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
