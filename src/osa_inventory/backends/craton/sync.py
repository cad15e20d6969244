"""What Craton holds for one inventory, and the requests that turn it into another.

:class:`Stored` is what a read found: each host's id, ``ip_address``,
``device_type`` and variables, and the ``osa-inventory`` cell's entries (kept as
canonical JSON text, so that nothing handed to a caller is shared). :func:`plan`
compares it with a target :class:`~.mapping.Layout` and returns one request per
difference, and only for differences: a one-host change sends requests for that
host and the entries it changes, nothing for the other hosts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osa_inventory.backends.craton.client import CratonClient, CratonError
from osa_inventory.backends.craton.mapping import (
    EXACT_KEY,
    Layout,
    canonical,
    decode_vars,
    encode_vars,
    exact_part,
)
from osa_inventory.backends.craton.places import Place
from osa_inventory.errors import StoreCorrupt


@dataclass(frozen=True)
class HostState:
    id: int
    ip_address: str
    device_type: str
    vars_json: str  # canonical JSON of the host's inventory vars


@dataclass
class Stored:
    hosts: dict[str, HostState] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)  # cell variable -> canonical JSON

    def layout(self) -> Layout:
        """A fresh copy of what is stored, as inventory parts."""
        return Layout(
            {name: json.loads(host.vars_json) for name, host in self.hosts.items()},
            {key: json.loads(text) for key, text in self.entries.items()},
        )


def read_hosts(client: CratonClient, region_id: int) -> dict[str, HostState]:
    """Every host of the region with its own (not inherited) variables."""
    hosts: dict[str, HostState] = {}
    for item in client.pages(
        "/hosts", "hosts", region_id=region_id, details="true", **{"resolved-values": "false"}
    ):
        name = item.get("name")
        if not isinstance(name, str) or name in hosts:
            raise StoreCorrupt(f"craton: region {region_id} holds a host without a unique name")
        variables = item.get("variables") or {}
        if not isinstance(variables, dict):
            raise StoreCorrupt(f"craton: host {name}: variables are not an object")
        hosts[name] = HostState(
            id=int(item["id"]),
            ip_address=str(item.get("ip_address") or ""),
            device_type=str(item.get("device_type") or ""),
            vars_json=canonical(decode_vars(variables, name)),
        )
    return hosts


def stored_entries(variables: Mapping[str, Any]) -> dict[str, str]:
    return {key: canonical(value) for key, value in variables.items()}


# -- planning ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request of a plan; ``host`` names the host it concerns (None: the cell)."""

    method: str
    path: str
    body: Any
    host: str | None = None
    create: bool = False


@dataclass
class Plan:
    requests: list[Request] = field(default_factory=list)

    def add(self, *requests: Request) -> None:
        self.requests.extend(requests)

    def __len__(self) -> int:
        return len(self.requests)


def plan(
    stored: Stored,
    target: Layout,
    base_membership: Mapping[str, set[str]],
    place: Place,
    cell_id: int | None,
) -> Plan:
    """The requests that make Craton hold ``target`` instead of ``stored``.

    ``base_membership`` is the labels the stored hosts carry (the groups of the
    version they belong to); labels are not read back, being a copy of the
    groups kept in the cell.
    """
    result = Plan()
    creates: list[Request] = []
    updates: list[Request] = []
    deletes: list[Request] = []
    membership = target.membership()
    for name in target.hosts:
        spec = target.spec(name)
        labels = membership.get(name, set())
        have = stored.hosts.get(name)
        if have is None:
            body = {
                "name": name,
                "region_id": place.region_id,
                "cloud_id": place.cloud_id,
                "ip_address": spec.ip_address,
                "device_type": spec.device_type,
                "labels": sorted(labels),
                "variables": encode_vars(spec.hostvars),
            }
            creates.append(Request("POST", "/hosts", body, name, create=True))
            continue
        path = f"/hosts/{have.id}"
        if canonical(spec.hostvars) != have.vars_json:
            updates.extend(
                _variable_requests(path, name, json.loads(have.vars_json), spec.hostvars)
            )
        fields = {}
        if spec.ip_address != have.ip_address:
            fields["ip_address"] = spec.ip_address
        if spec.device_type != have.device_type:
            fields["device_type"] = spec.device_type
        if fields:
            updates.append(Request("PUT", path, fields, name))
        old_labels = base_membership.get(name, set())
        if labels - old_labels:
            updates.append(
                Request("PUT", f"{path}/labels", {"labels": sorted(labels - old_labels)}, name)
            )
        if old_labels - labels:
            updates.append(
                Request("DELETE", f"{path}/labels", {"labels": sorted(old_labels - labels)}, name)
            )
    for name, have in stored.hosts.items():
        if name not in target.hosts:
            deletes.append(Request("DELETE", f"/hosts/{have.id}", None, name))
    result.add(*creates, *updates, *deletes)
    put = {
        key: value
        for key, value in target.entries.items()
        if stored.entries.get(key) != canonical(value)
    }
    drop = sorted(key for key in stored.entries if key not in target.entries)
    if (put or drop) and cell_id is None:
        raise AssertionError("the osa-inventory cell must exist before entries are written")
    if put:
        result.add(Request("PUT", f"/cells/{cell_id}/variables", put))
    if drop:
        result.add(Request("DELETE", f"/cells/{cell_id}/variables", drop))
    return result


def _variable_requests(
    path: str, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Request]:
    put = {
        key: value
        for key, value in new.items()
        if key not in old or canonical(value) != canonical(old[key])
    }
    drop = [key for key in old if key not in new]
    old_exact, new_exact = exact_part(old), exact_part(new)
    if old_exact != new_exact:
        if new_exact:
            put[EXACT_KEY] = new_exact
        else:
            drop.append(EXACT_KEY)
    requests = []
    if put:
        requests.append(Request("PUT", f"{path}/variables", put, name))
    if drop:
        requests.append(Request("DELETE", f"{path}/variables", sorted(drop), name))
    return requests


# -- applying ----------------------------------------------------------------------------


def apply(
    client: CratonClient,
    requests: list[Request],
    place: Place,
    on_step: Callable[[], None],
    created: dict[str, int],
) -> None:
    """Send the requests in order, noting the ids of created hosts in ``created``.

    A host to create that already exists (left by an interrupted attempt) is
    made what the request says instead.
    """
    for request in requests:
        if request.create:
            created[request.body["name"]] = _create(client, request, place)
        else:
            client.request(request.method, request.path, body=request.body)
        on_step()


def _create(client: CratonClient, request: Request, place: Place) -> int:
    try:
        return int(client.post(request.path, request.body, accept=(409,))["id"])
    except CratonError:
        pass
    # created by an earlier, interrupted attempt: make it what the request says
    body = request.body
    found = client.get("/hosts", region_id=place.region_id, name=body["name"], limit=10) or {}
    hosts = [h for h in found.get("hosts") or () if h.get("name") == body["name"]]
    if not hosts:
        raise StoreCorrupt(f"craton: host {body['name']} exists and does not; retry the write")
    path = f"/hosts/{hosts[0]['id']}"
    current = client.get(f"{path}/variables", **{"resolved-values": "false"}) or {}
    stale = sorted(set(current.get("variables") or {}) - set(body["variables"]))
    if stale:
        client.delete(f"{path}/variables", stale)
    client.put(f"{path}/variables", body["variables"])
    client.put(path, {"ip_address": body["ip_address"], "device_type": body["device_type"]})
    labels = client.get(f"{path}/labels") or {}
    extra = sorted(set(labels.get("labels") or ()) - set(body["labels"]))
    if extra:
        client.delete(f"{path}/labels", {"labels": extra})
    if body["labels"]:
        client.put(f"{path}/labels", {"labels": body["labels"]})
    return int(hosts[0]["id"])
