"""The head version in one plain HTTP request to etcd's gateway (the light ``--list``).

No etcd3gw and no requests: one ``POST <api>kv/range`` of the ``head`` key
with :mod:`http.client`, to each endpoint in order until one answers, with the
``hasleader`` requirement the full client sets (a member cut off from the
quorum answers "no leader" at once rather than a stale head). Only what needs
no conversation is handled: no user and password (a token would take a request
more), https only with a ``ca_cert``. Anything else, a member that does not
answer within a short time, or a record that does not parse, returns None,
and the full backend answers instead (failover, the local copy during an
outage, the one-line errors). See :mod:`osa_inventory.store.light`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from osa_inventory.backends.etcd.endpoints import Endpoint, parse_endpoints
from osa_inventory.backends.etcd.kv import b64, parse_kv
from osa_inventory.backends.etcd.layout import Layout
from osa_inventory.backends.etcd.records import info_of, parse_record
from osa_inventory.store.backend import VersionInfo

#: seconds one endpoint may take in all: an outage costs the full road little more
LIGHT_TIMEOUT = 2.0
DEFAULT_API_PATH = "/v3/"  # etcd 3.4 and later; an older gateway answers 404 (None)


def etcd_head(config: Mapping[str, Any]) -> VersionInfo | None:
    """The head version of the store ``config`` names; None when this reader cannot tell."""
    if config.get("user") or config.get("password"):
        return None
    tls = bool(config.get("ca_cert") or config.get("cert_cert"))
    protocol = str(config.get("protocol") or ("https" if tls else "http")).lower()
    endpoints = parse_endpoints(config["endpoints"], protocol)
    head_key = Layout(config["prefix"], config["name"]).head
    path = "/" + str(config.get("api_path") or DEFAULT_API_PATH).strip("/") + "/kv/range"
    body = json.dumps({"key": b64(head_key)}).encode()
    timeout = min(LIGHT_TIMEOUT, float(config["timeout"]))
    for endpoint in endpoints:
        answer = _post(endpoint, path, body, timeout, config)
        if answer is not None:
            kvs = answer.get("kvs") or []
            if len(kvs) != 1:
                return None  # an empty store: the full road says so
            return info_of(parse_record(parse_kv(kvs[0])))
    return None


def _post(
    endpoint: Endpoint, path: str, body: bytes, timeout: float, config: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The gateway's JSON answer from ``endpoint``; None when it gives none (or an error)."""
    import http.client

    connection: http.client.HTTPConnection
    if endpoint.scheme == "https":
        if not config.get("ca_cert"):  # the full client's default bundle is not ours to guess
            return None
        connection = http.client.HTTPSConnection(
            endpoint.host, endpoint.port, timeout=timeout, context=_tls(config)
        )
    else:
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Grpc-Metadata-hasleader": "true"}
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    answer = json.loads(data)
    return answer if isinstance(answer, dict) else None


def _tls(config: Mapping[str, Any]) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=config["ca_cert"])
    if config.get("cert_cert"):
        context.load_cert_chain(config["cert_cert"], config.get("cert_key") or None)
    return context
