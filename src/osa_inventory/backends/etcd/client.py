"""A thin layer over etcd3gw: endpoints, failover, auth and error translation.

Every request goes through :meth:`EtcdClient.post`, which tries the endpoint
that answered last, then the next ones in the configured order, retrying with
a short back-off until the ``timeout`` budget of the operation is spent. A
member that is up but cut off from the quorum answers at once with "no leader"
(every request carries gRPC's ``hasleader`` requirement), so it fails over as
fast as a member that is down. Errors leave this module only as
:mod:`osa_inventory.errors` exceptions.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import requests
from etcd3gw import exceptions as etcd_exc
from etcd3gw.client import Etcd3Client

from osa_inventory.backends.etcd.endpoints import Endpoint
from osa_inventory.backends.etcd.kv import (
    KeyValue,
    RangeResult,
    TxnResult,
    b64,
    parse_kv,
    prefix_end,
    range_op,
)
from osa_inventory.errors import ConfigError, StoreError, StoreUnavailable

CONNECT_TIMEOUT = 2.0
PAGE_KEYS = 1000
_BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.5)
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")
_SSL_RE = re.compile(r"\[SSL[^\]]*\][^'\"()]*")


class RequestFailed(StoreError):
    """etcd refused a request (not a connection problem); ``detail`` is its message."""

    def __init__(self, message: str, detail: str, code: int | None) -> None:
        super().__init__(message)
        self.detail = detail
        self.code = code


class _Retry(Exception):
    """Internal: this endpoint failed in a way another endpoint may not."""


@dataclass(frozen=True)
class ClientConfig:
    endpoints: tuple[Endpoint, ...]
    timeout: float
    ca_cert: str | None = None
    cert_cert: str | None = None
    cert_key: str | None = None
    user: str | None = None
    password: str | None = None
    api_path: str | None = None


class EtcdClient:
    """Requests to an etcd cluster through its JSON gateway, with failover."""

    def __init__(self, config: ClientConfig, api_paths: dict[Endpoint, str] | None = None) -> None:
        self.config = config
        self._clients: dict[Endpoint, Etcd3Client] = {}
        self._api_paths: dict[Endpoint, str] = dict(api_paths or {})
        self._current = 0
        # Sessions ignore the environment (proxies, netrc, CA bundle variables): etcd is
        # reached directly, and the CA is ca_cert, else the bundle the environment names.
        env_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._verify: str | bool = config.ca_cert or env_bundle or True

    def clone(self, timeout: float | None = None) -> EtcdClient:
        """A client with the same settings and connections of its own (for another thread)."""
        config = self.config if timeout is None else replace(self.config, timeout=timeout)
        return EtcdClient(config, self._api_paths)

    @property
    def current_endpoint(self) -> Endpoint:
        """The endpoint that answered last (the first one tried next)."""
        return self.config.endpoints[self._current]

    def describe(self) -> str:
        return ",".join(str(e) for e in self.config.endpoints)

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()
        self._clients.clear()

    # -- requests --

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``path`` of the v3 API on the first endpoint that answers."""
        deadline = time.monotonic() + self.config.timeout
        endpoints = self.config.endpoints
        failures: dict[Endpoint, str] = {}
        rounds = 0
        while True:
            for step in range(len(endpoints)):
                index = (self._current + step) % len(endpoints)
                endpoint = endpoints[index]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    result = self._post_once(endpoint, path, payload, remaining)
                except _Retry as exc:
                    failures[endpoint] = str(exc)
                    continue
                self._current = index
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreUnavailable(self._unavailable(failures))
            time.sleep(min(_BACKOFF[min(rounds, len(_BACKOFF) - 1)], remaining))
            rounds += 1

    def _unavailable(self, failures: dict[Endpoint, str]) -> str:
        tried = "; ".join(f"{e}: {reason}" for e, reason in failures.items()) or "no attempt"
        hint = "check that the etcd cluster is up and has a quorum, and the endpoints option"
        if any("SSL" in reason or "certificate" in reason for reason in failures.values()):
            hint = "check the ca_cert, cert_cert and cert_key options and the endpoints' scheme"
        return f"etcd: no endpoint answered within {self.config.timeout:g} s ({tried}); {hint}"

    def _client(self, endpoint: Endpoint, remaining: float) -> Etcd3Client:
        client = self._clients.get(endpoint)
        if client is None:
            session = requests.Session()
            session.trust_env = False
            session.verify = self._verify
            session.headers["Grpc-Metadata-hasleader"] = "true"
            if self.config.cert_cert:
                session.cert = (
                    (self.config.cert_cert, self.config.cert_key)
                    if self.config.cert_key
                    else self.config.cert_cert
                )
            client = Etcd3Client(
                host=endpoint.host,
                port=endpoint.port,
                protocol=endpoint.scheme,
                api_path=self._api_path(endpoint, session, remaining),
                session=session,
            )
            self._clients[endpoint] = client
            if self.config.user:
                self._authenticate(endpoint, client, remaining)
        return client

    def _timeouts(self, remaining: float) -> tuple[float, float]:
        """(connect, read) timeouts of one attempt: a hung member leaves time for the others."""
        share = self.config.timeout / 2 if len(self.config.endpoints) > 1 else remaining
        read = max(min(remaining, share), 0.1)
        return min(CONNECT_TIMEOUT, read), read

    def _api_path(self, endpoint: Endpoint, session: requests.Session, remaining: float) -> str:
        """The gateway's path for the server's version (etcd3gw's rule, with our TLS settings)."""
        known = self.config.api_path or self._api_paths.get(endpoint)
        if known:
            return known
        url = f"{endpoint.scheme}://{endpoint}/version"
        response = session.get(url, timeout=self._timeouts(remaining))
        try:
            text = response.json()["etcdserver"]
            version = tuple(int(part) for part in text.split(".")[:2])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an etcd server (GET /version: {response.status_code})") from exc
        if version < (3, 3):
            raise ConfigError(f"etcd at {endpoint} is version {text}; 3.3 or later is needed")
        path = "/v3/" if version >= (3, 4) else "/v3beta/"
        self._api_paths[endpoint] = path
        return path

    def _post_once(
        self, endpoint: Endpoint, path: str, payload: dict[str, Any], remaining: float
    ) -> dict[str, Any]:
        for attempt in range(2):
            try:
                client = self._client(endpoint, remaining)
                _use_timeouts(client, self._timeouts(remaining))
                return client.post(client.get_url(path), json=payload)
            except etcd_exc.Etcd3Exception as exc:
                detail, code = _detail(exc)
                if self.config.user and attempt == 0 and _token_expired(detail, exc):
                    self._authenticate(endpoint, self._clients[endpoint], remaining)
                    continue
                self._raise_for(endpoint, exc, detail, code)
            except (requests.RequestException, OSError, ValueError) as exc:
                self._clients.pop(endpoint, None)
                raise _Retry(_short(str(exc)) or type(exc).__name__) from exc
        raise _Retry("authentication keeps expiring")

    def _raise_for(
        self, endpoint: Endpoint, exc: etcd_exc.Etcd3Exception, detail: str, code: int | None
    ) -> None:
        retry = isinstance(
            exc,
            etcd_exc.ConnectionFailedError
            | etcd_exc.ConnectionTimeoutError
            | etcd_exc.InternalServerError
            | etcd_exc.ApiVersionDiscoveryFailedError,
        )
        if retry or code == 14 or "leader" in detail:
            if isinstance(exc, etcd_exc.ConnectionFailedError | etcd_exc.ConnectionTimeoutError):
                self._clients.pop(endpoint, None)  # a fresh session (and token) next time
            raise _Retry(_short(detail) or type(exc).__name__) from exc
        if "user name is empty" in detail or "invalid auth token" in detail:
            raise ConfigError(
                f"etcd at {endpoint} requires authentication; set the user and password options"
            ) from exc
        if "permission denied" in detail:
            raise StoreUnavailable(
                f"etcd at {endpoint}: user {self.config.user!r} may not use these keys "
                "(permission denied); grant it a role with readwrite on the prefix"
            ) from exc
        raise RequestFailed(
            f"etcd at {endpoint} refused a request: {detail}", detail, code
        ) from exc

    def _authenticate(self, endpoint: Endpoint, client: Etcd3Client, remaining: float) -> None:
        client.session.headers.pop("Authorization", None)
        _use_timeouts(client, self._timeouts(remaining))
        body = {"name": self.config.user, "password": self.config.password or ""}
        try:
            url = client.get_url("/auth/authenticate")
            token = client.post(
                url,
                json=body,
            )["token"]
        except etcd_exc.Etcd3Exception as exc:
            self._clients.pop(endpoint, None)
            detail, _code = _detail(exc)
            if "authentication failed" in detail or "invalid user" in detail:
                raise ConfigError(
                    f"etcd at {endpoint} rejected user {self.config.user!r} (invalid user name "
                    "or password); fix the user and password (or password_env/password_file) "
                    "options"
                ) from exc
            if "authentication is not enabled" in detail:
                raise ConfigError(
                    f"etcd at {endpoint} has authentication disabled; remove the user and "
                    "password options or enable auth in etcd"
                ) from exc
            raise _Retry(_short(detail) or type(exc).__name__) from exc
        except (requests.RequestException, OSError, ValueError, KeyError) as exc:
            self._clients.pop(endpoint, None)
            raise _Retry(_short(str(exc)) or type(exc).__name__) from exc
        client.session.headers["Authorization"] = str(token)

    # -- key-value helpers --

    def range(
        self,
        key: bytes,
        end: bytes | None = None,
        *,
        revision: int | None = None,
        limit: int | None = None,
        keys_only: bool = False,
    ) -> RangeResult:
        payload: dict[str, Any] = {"key": b64(key)}
        if end is not None:
            payload["range_end"] = b64(end)
        if revision:
            payload["revision"] = str(revision)
        if limit:
            payload["limit"] = str(limit)
        if keys_only:
            payload["keys_only"] = True
        result = self.post("/kv/range", payload)
        return RangeResult(
            revision=int(result["header"]["revision"]),
            kvs=[parse_kv(item) for item in result.get("kvs", [])],
            more=bool(result.get("more", False)),
        )

    def get(self, key: bytes, *, revision: int | None = None) -> tuple[int, KeyValue | None]:
        """(store revision, the key-value or None)."""
        result = self.range(key, revision=revision)
        return result.revision, (result.kvs[0] if result.kvs else None)

    def scan(
        self, prefix: bytes, *, revision: int, keys_only: bool = False, page: int = PAGE_KEYS
    ) -> Iterator[KeyValue]:
        """Every key below ``prefix`` as of ``revision``, in pages."""
        start, end = prefix, prefix_end(prefix)
        while True:
            result = self.range(start, end, revision=revision, limit=page, keys_only=keys_only)
            yield from result.kvs
            if not result.more or not result.kvs:
                return
            start = result.kvs[-1].key + b"\0"

    def get_many(
        self, keys: Sequence[bytes], *, revision: int, keys_only: bool = False
    ) -> list[KeyValue]:
        """The key-values of ``keys`` as of ``revision`` (missing keys are left out)."""
        found: list[KeyValue] = []
        for batch in _batches(keys, 100):
            ops = [range_op(k, revision=revision, keys_only=keys_only) for k in batch]
            for kvs in self.txn([], ops, []).ranges():
                found.extend(kvs)
        return found

    def txn(
        self,
        compare: list[dict[str, Any]],
        success: list[dict[str, Any]],
        failure: list[dict[str, Any]],
    ) -> TxnResult:
        result = self.post("/kv/txn", {"compare": compare, "success": success, "failure": failure})
        return TxnResult(
            succeeded=bool(result.get("succeeded", False)),
            revision=int(result["header"]["revision"]),
            responses=result.get("responses", []),
        )

    # -- leases --

    def grant(self, ttl: int) -> int:
        return int(self.post("/lease/grant", {"TTL": str(ttl), "ID": "0"})["ID"])

    def keepalive(self, lease: int) -> int:
        """Refresh a lease; its new TTL, or -1 when it has expired."""
        result = self.post("/lease/keepalive", {"ID": str(lease)})
        return int(result.get("result", {}).get("TTL", -1))

    def time_to_live(self, lease: int) -> int:
        """Seconds the lease has left (-1: gone)."""
        return int(self.post("/kv/lease/timetolive", {"ID": str(lease)}).get("TTL", -1))

    def revoke(self, lease: int) -> None:
        try:
            self.post("/kv/lease/revoke", {"ID": str(lease)})
        except RequestFailed as exc:
            if "lease not found" not in exc.detail:
                raise


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _detail(exc: etcd_exc.Etcd3Exception) -> tuple[str, int | None]:
    """etcd's own message and gRPC code from a gateway error response."""
    text = exc.detail_text or ""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip(), None
    if not isinstance(body, dict):
        return text.strip(), None
    code = body.get("code")
    return str(body.get("message") or body.get("error") or text).strip(), (
        int(code) if isinstance(code, int) else None
    )


def _token_expired(detail: str, exc: etcd_exc.Etcd3Exception) -> bool:
    return "invalid auth token" in detail or "Unauthorized" in exc.args


def _short(text: str) -> str:
    """The useful part of a requests/urllib3 error ("Connection refused", SSL reason)."""
    ssl = _SSL_RE.search(text)
    if ssl:
        return ssl.group(0).strip()
    if "RemoteDisconnected" in text:
        return "the server closed the connection (an https endpoint used with http?)"
    errno = _ERRNO_RE.search(text)
    if errno:
        return errno.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else ""


def _use_timeouts(client: Etcd3Client, timeouts: tuple[float, float]) -> None:
    """Give the client (connect, read) timeouts.

    etcd3gw declares ``timeout`` a number but only hands it to requests, which
    also takes a (connect, read) pair: connecting to a dead member then fails
    fast, leaving time for the others.
    """
    setattr(client, "timeout", timeouts)  # noqa: B010 - see above: not the declared type
