"""Finding (and on the first write creating) the cloud, region and cells of one inventory.

Admin users see every project's objects (a Craton defect), so every lookup
keeps only objects of the configured project. The ids are remembered for the
life of the backend instance and looked up again when Craton answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from osa_inventory.backends.craton.client import CratonClient, CratonError
from osa_inventory.errors import StoreError

#: region variable holding the head record (see records.py)
HEAD_VAR = "osa_inventory"
#: the cell whose variables hold the groups and other non-host parts
STATE_CELL = "osa-inventory"
#: the cell whose variables hold the version records and the pending write
HISTORY_CELL = "osa-inventory-history"
#: the cell that exists while a writer holds the lock
LOCK_CELL = "osa-inventory-lock"

_OWN = {"details": "true", "resolved-values": "false"}


@dataclass(frozen=True)
class Place:
    cloud_id: int
    region_id: int


class Places:
    """Ids of the inventory's cloud, region and cells in one project."""

    def __init__(self, client: CratonClient, project_id: str, cloud: str, region: str) -> None:
        self.client = client
        self.project_id = project_id
        self.cloud = cloud
        self.region = region
        self.place: Place | None = None
        self.cells: dict[str, int] = {}

    def describe(self) -> str:
        return f"cloud {self.cloud!r} region {self.region!r}"

    def forget(self) -> None:
        self.place = None
        self.cells.clear()

    def _ours(self, items: Any) -> list[dict[str, Any]]:
        if items is None:
            raise StoreError("craton: a list answer without items")
        return [
            item
            for item in items
            if isinstance(item, dict) and str(item.get("project_id")) == self.project_id
        ]

    # -- the region and its variables --

    def region_variables(self) -> tuple[Place | None, dict[str, Any]]:
        """The region (None when it does not exist) and its own variables.

        Usually one request: once the region is known, its variables; before,
        the project's regions with their variables, matched by name and by the
        cloud name its head record names (Craton's ``?name=`` lookup of regions
        and clouds fails when two share a name), else one more for the clouds.
        """
        if self.place is not None:
            try:
                variables = self.client.request(
                    "GET", f"/regions/{self.place.region_id}/variables", accept=(404,)
                )
                return self.place, _variables(variables)
            except CratonError:
                self.forget()  # deleted by someone: look it up again
        regions = [
            item
            for item in self._ours(self.client.pages("/regions", "regions", **_OWN))
            if item.get("name") == self.region
        ]
        named = [
            item
            for item in regions
            if isinstance((item.get("variables") or {}).get(HEAD_VAR), dict)
            and item["variables"][HEAD_VAR].get("cloud") == self.cloud
        ]
        if len(named) != 1:
            cloud_id = self._cloud_id()
            named = [item for item in regions if item.get("cloud_id") == cloud_id]
        if not named:
            return None, {}
        item = named[0]
        self.place = Place(int(item["cloud_id"]), int(item["id"]))
        return self.place, _variables(item)

    def _cloud_id(self) -> int | None:
        for item in self._ours(self.client.pages("/clouds", "clouds")):
            if item.get("name") == self.cloud:
                return int(item["id"])
        return None

    def ensure(self) -> Place:
        """The region, creating the cloud and the region when they do not exist."""
        if self.place is not None:
            return self.place
        place, _ = self.region_variables()
        if place is not None:
            return place
        cloud_id = self._cloud_id()
        if cloud_id is None:
            try:
                cloud_id = int(
                    self.client.post("/clouds", {"name": self.cloud}, accept=(409,))["id"]
                )
            except CratonError:  # created by another client meanwhile
                cloud_id = self._cloud_id()
                if cloud_id is None:
                    raise
        body = {"name": self.region, "cloud_id": cloud_id}
        try:
            region_id = int(self.client.post("/regions", body, accept=(409,))["id"])
        except CratonError:
            self.forget()
            place, _ = self.region_variables()
            if place is None:
                raise
            return place
        self.place = Place(cloud_id, region_id)
        return self.place

    # -- cells --

    def cell(self, name: str) -> tuple[int | None, dict[str, Any]]:
        """A cell of the region (None when absent) and its own variables."""
        place = self.place
        if place is None:
            return None, {}
        answer = self.client.get("/cells", region_id=place.region_id, name=name, **_OWN) or {}
        found = self._ours(answer.get("cells"))
        if not found:
            self.cells.pop(name, None)
            return None, {}
        self.cells[name] = int(found[0]["id"])
        return self.cells[name], _variables(found[0])

    def ensure_cell(self, name: str) -> int:
        if name in self.cells:
            return self.cells[name]
        place = self.ensure()
        cell_id, _ = self.cell(name)
        if cell_id is None:
            body = {"name": name, "region_id": place.region_id, "cloud_id": place.cloud_id}
            try:
                cell_id = int(self.client.post("/cells", body, accept=(409,))["id"])
            except CratonError:  # created by another client meanwhile
                cell_id, _ = self.cell(name)
                if cell_id is None:
                    raise
            self.cells[name] = cell_id
        return cell_id


def _variables(item: Any) -> dict[str, Any]:
    variables = item.get("variables") if isinstance(item, dict) else None
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise StoreError("craton: an object's variables are not a JSON object")
    return variables
