"""A thin client of Craton's REST API: authentication, retries, paging, error translation.

Every request carries the three ``X-Auth-*`` headers; the key is sent in a
header only, never in a URL, and never appears in a message. Connection
problems become :class:`~osa_inventory.errors.StoreUnavailable` (so that the
local copy can be served), refused credentials a
:class:`~osa_inventory.errors.ConfigError`, anything else Craton refuses a
:class:`CratonError` carrying its HTTP status.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from osa_inventory.errors import ConfigError, StoreError, StoreUnavailable

CONNECT_TIMEOUT = 5.0
PAGE_SIZE = 100  # Craton accepts 10 to 100
_BACKOFF = (0.1, 0.2, 0.5, 1.0)
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})


class CratonError(StoreError):
    """Craton refused a request; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ClientConfig:
    url: str  # the API root, ending in /v1
    project_id: str
    user: str
    key: str
    timeout: float
    verify: bool | str  # True, False or a CA bundle


class CratonClient:
    """One session to one Craton API, as one user of one project."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy, netrc or CA variables: the options decide
        self.session.verify = config.verify
        if config.verify is False:  # asked for: do not repeat urllib3's warning on every request
            import warnings

            from urllib3.exceptions import InsecureRequestWarning

            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        self.session.headers.update(
            {
                "X-Auth-Project": config.project_id,
                "X-Auth-User": config.user,
                "X-Auth-Token": config.key,
                "Accept": "application/json",
            }
        )
        #: requests sent, by method (tests and benchmarks count them)
        self.counts: Counter[str] = Counter()
        #: (method, path) of every request sent since the last reset
        self.sent: list[tuple[str, str]] = []

    def close(self) -> None:
        self.session.close()

    def reset_counts(self) -> None:
        self.counts.clear()
        self.sent.clear()

    # -- requests --

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        accept: tuple[int, ...] = (),
    ) -> Any:
        """Send one request; the decoded JSON body (None for 204 or an accepted status).

        ``accept`` lists error statuses the caller handles: for them a
        :class:`CratonError` is raised without retrying or translating.
        """
        deadline = time.monotonic() + self.config.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = self._send(method, path, params, body, remaining)
                break
            except requests.exceptions.SSLError as exc:
                raise StoreUnavailable(
                    f"craton {self.config.url}: TLS failed ({_short(exc)}); check the verify "
                    "and ca_cert options and the URL's scheme"
                ) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                retry = method in _IDEMPOTENT or _not_sent(exc)
                pause = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
                if not retry or time.monotonic() + pause >= deadline:
                    raise StoreUnavailable(
                        f"craton {self.config.url}: no answer within {self.config.timeout:g} s "
                        f"({_short(exc)}); check that craton-api runs and the url option"
                    ) from exc
                time.sleep(pause)
                attempt += 1
        return self._result(method, path, response, accept)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        remaining: float,
    ) -> requests.Response:
        self.counts[method] += 1
        self.sent.append((method, path))
        read_timeout = max(remaining, 0.5)
        return self.session.request(
            method,
            self.config.url + path,
            params=params,
            json=body,
            timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout),
            allow_redirects=False,
        )

    def _result(
        self, method: str, path: str, response: requests.Response, accept: tuple[int, ...]
    ) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise StoreError(
                    f"craton {self.config.url}: {method} {path} answered {status} with a body "
                    "that is not JSON; is the url option the Craton API root (…/v1)?"
                ) from exc
        detail = _message(response)
        if status in accept:
            raise CratonError(f"craton: {method} {path}: {detail}", status, detail)
        if status == 401:
            raise ConfigError(
                f"craton {self.config.url} refused user {self.config.user!r} of project "
                f"{self.config.project_id} (HTTP 401: {detail}); check the user, key and "
                "project_id options (a plain, non-admin user of that project)"
            )
        if status in (502, 503, 504):
            raise StoreUnavailable(
                f"craton {self.config.url}: {method} {path} answered {status} ({detail}); "
                "retry when the service is back"
            )
        raise CratonError(
            f"craton {self.config.url}: {method} {path} failed with HTTP {status}: {detail}",
            status,
            detail,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any, accept: tuple[int, ...] = ()) -> Any:
        return self.request("POST", path, body=body, accept=accept)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, body: Any = None) -> None:
        self.request("DELETE", path, body=body)

    def pages(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, in Craton's default order (creation, then id)."""
        marker: Any = None
        while True:
            query = {**params, "limit": PAGE_SIZE}
            if marker is not None:
                query["marker"] = marker
            page = self.request("GET", path, params=query) or {}
            items = page.get(key)
            if not isinstance(items, list):
                raise StoreError(f"craton {self.config.url}: GET {path} has no {key!r} list")
            yield from items
            if len(items) < PAGE_SIZE:
                return
            marker = items[-1]["id"]


def _not_sent(exc: Exception) -> bool:
    """Whether a failed request certainly never reached the server (safe to resend a POST)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return _short(response.text or response.reason or "no message")
    if isinstance(data, dict) and data.get("message"):
        return " ".join(str(data["message"]).split())
    return _short(str(data))


def _short(value: Any, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
