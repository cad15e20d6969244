"""The ``endpoints`` option: ``host:port[,host:port...]``, schemes optional."""

from __future__ import annotations

import re
from dataclasses import dataclass

from osa_inventory.errors import ConfigError

DEFAULT_PORT = 2379
_HOST_PORT_RE = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\s\[\]]+))(?::(?P<port>\d+))?$"
)


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoints(text: str, default_scheme: str) -> list[Endpoint]:
    """``host:port[,host:port...]``, each optionally ``http://`` or ``https://``."""
    endpoints = []
    for raw in str(text).split(","):
        item = raw.strip()
        if not item:
            continue
        scheme = default_scheme
        if "://" in item:
            scheme, _, item = item.partition("://")
            scheme = scheme.lower()
            item = item.rstrip("/")
        match = _HOST_PORT_RE.match(item)
        port = int(match["port"]) if match and match["port"] else DEFAULT_PORT
        if scheme not in ("http", "https") or match is None or not 0 < port < 65536:
            raise ConfigError(
                f"backend etcd: endpoint {raw.strip()!r} is not valid; write endpoints as "
                "host:port[,host:port...], e.g. endpoints = 10.0.0.1:2379,10.0.0.2:2379"
            )
        endpoints.append(Endpoint(scheme, match["v6"] or match["host"], port))
    if not endpoints:
        raise ConfigError(
            "backend etcd: option endpoints is empty; set it to host:port[,host:port...]"
        )
    return endpoints
