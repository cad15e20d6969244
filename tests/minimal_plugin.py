"""A third-party-style plugin with only ``register``/``load``/``write`` and no base class.

It keeps the inventory as JSON in the file named by its ``path`` option. It has
no lock and no history: the Store front end supplies a local lock. It lives in
a module of its own so that worker processes can import it by the path
``minimal_plugin:MinimalPlugin`` (the tests directory is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from osa_inventory.errors import ConfigError, StoreCorrupt

TARGET = "minimal_plugin:MinimalPlugin"


class MinimalPlugin:
    def register(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - {"path"})
        if unknown or "path" not in options:
            raise ConfigError(f"minimal plugin: needs exactly the option path, got {options}")
        self.path = Path(options["path"])

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"_meta": {"hostvars": {}}}
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StoreCorrupt(f"{self.path}: {exc}") from exc

    def write(self, inventory: dict[str, Any]) -> None:
        # atomic: readers never see half a file
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(inventory, f)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
