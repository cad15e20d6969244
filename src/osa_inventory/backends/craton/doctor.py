"""``osa-inventory doctor`` checks particular to Craton."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from osa_inventory.backends.craton.client import PAGE_SIZE, CratonClient, CratonError
from osa_inventory.backends.craton.mapping import membership_of
from osa_inventory.backends.craton.places import Places
from osa_inventory.backends.craton.sync import Stored

Row = tuple[str, str, str]
SHOWN = 5  # hosts named in a warning


def user_row(client: CratonClient, user: str) -> Row:
    """Whether the user is a plain user: Craton lets an admin read every project."""
    try:
        client.request("GET", "/users", params={"limit": 10}, accept=(401, 403))
    except CratonError:
        return ("craton user", "ok", f"{user} is a plain user of the project")
    return (
        "craton user",
        "warn",
        f"{user} is a project admin: Craton shows an admin the hosts of every project; use a "
        "plain (non-admin) user for the inventory",
    )


def writing_row(head: dict[str, Any] | None) -> Row:
    writing = (head or {}).get("writing")
    if not writing:
        return ("craton write", "ok", "no write under way")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(writing.get("since") or 0))
    what, before = (
        ("the kept versions are being rekeyed", "them as they were")
        if writing.get("rekey")
        else (f"version {writing.get('version')} is being written", "the version before it")
    )
    return (
        "craton write",
        "info",
        f"{what} by {writing.get('user')}@{writing.get('host')} pid {writing.get('pid')} "
        f"since {since}; readers serve {before}, and the next run completes it if that "
        "writer is gone",
    )


def labels_row(client: CratonClient, places: Places, stored: Stored) -> Row:
    """Whether every host's labels are its groups (a copy kept for Craton's own users)."""
    groups = {key: json.loads(text) for key, text in stored.entries.items()}
    wanted = membership_of(groups)
    wanted = {name: wanted.get(name, set()) for name in stored.hosts}
    members: dict[str, list[str]] = {}
    for host, labels in wanted.items():
        for label in labels:
            members.setdefault(label, []).append(host)
    by_label = sum(math.ceil((len(m) + 1) / PAGE_SIZE) for m in members.values())
    found: dict[str, set[str]] = {name: set() for name in stored.hosts}
    if by_label < len(stored.hosts) and places.place is not None:
        for label in members:
            for item in client.pages(
                "/hosts", "hosts", region_id=places.place.region_id, label=label
            ):
                if item.get("name") in found:
                    found[item["name"]].add(label)
    else:
        for name, state in stored.hosts.items():
            answer = client.get(f"/hosts/{state.id}/labels") or {}
            found[name] = set(answer.get("labels") or ())
    wrong = sorted(name for name in stored.hosts if found[name] != wanted[name])
    if not wrong:
        return ("craton labels", "ok", f"the labels of {len(stored.hosts)} hosts are their groups")
    shown = ", ".join(wrong[:SHOWN]) + (" …" if len(wrong) > SHOWN else "")
    return (
        "craton labels",
        "warn",
        f"{len(wrong)} hosts carry labels other than their groups ({shown}): changed in Craton; "
        "osa-inventory reads groups from the osa-inventory cell, only Craton's own views "
        "(labels, ?label= queries) differ",
    )
