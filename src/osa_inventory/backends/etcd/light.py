"""The head version in one plain HTTP request to etcd's gateway (the light ``--list``).

No etcd3gw and no requests: one ``POST <api>kv/range`` of the ``head`` key
(HTTP/1.0 on a plain socket), to each endpoint in order until one answers, with the
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
from osa_inventory.store.light import socket_host

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
    """The gateway's JSON answer from ``endpoint``; None when it gives none (or an error).

    One HTTP/1.0 request on a socket of our own: the server answers without
    chunks and closes, so the answer is all that arrives. (``http.client``
    would do the same, but importing it and the ``email`` package it parses
    headers with costs a tenth of a whole light ``--list``.)
    """
    import socket

    if endpoint.scheme == "https" and not config.get("ca_cert"):
        return None  # the full client's default bundle is not ours to guess
    request = (
        f"POST {path} HTTP/1.0\r\nHost: {endpoint}\r\nContent-Type: application/json\r\n"
        f"Grpc-Metadata-hasleader: true\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body
    try:
        address = (socket_host(endpoint.host), endpoint.port)  # typeshed: a str host only
        with socket.create_connection(address, timeout=timeout) as plain:  # type: ignore[arg-type]
            if endpoint.scheme == "https":
                with _tls(config).wrap_socket(plain, server_hostname=endpoint.host) as secure:
                    return answer_of(_exchange(secure, request))
            return answer_of(_exchange(plain, request))
    except (OSError, UnicodeError):  # ssl.SSLError is an OSError
        return None


def _exchange(connection: Any, request: bytes) -> bytes:
    connection.sendall(request)
    received = []
    while chunk := connection.recv(65536):
        received.append(chunk)
    return b"".join(received)


def answer_of(response: bytes) -> dict[str, Any] | None:
    """The JSON object of a whole ``200`` response; None for anything else."""
    head, separator, data = response.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    if not separator or status.split(" ")[1:2] != ["200"]:
        return None
    headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    if "transfer-encoding" in headers:
        return None  # not what an HTTP/1.0 client is sent
    if headers.get("content-length", str(len(data))) != str(len(data)):
        return None  # cut short
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _tls(config: Mapping[str, Any]) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=config["ca_cert"])
    if config.get("cert_cert"):
        context.load_cert_chain(config["cert_cert"], config.get("cert_key") or None)
    return context
