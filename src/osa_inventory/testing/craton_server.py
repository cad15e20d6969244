"""A real Craton server for tests and benchmarks, from the kit in ``shared/craton``.

``craton-server start DIR`` builds a virtualenv in DIR (about a minute, from
PyPI) and starts Craton's API on 127.0.0.1. Each test run starts its own
server in a folder of its own; with ``CRATON_DIR`` set, the virtualenv is
built there once and reused by every run (the run's folder links to it), so
only the first run on a machine pays for the build. The kit is found as
``shared/craton/craton-server`` in the working directory or one of its parents
(the shared data of the project's checkout), or where ``CRATON_KIT`` points.
Craton needs Python 3.11: when this one is another, ``python3.11`` from PATH
builds the virtualenv (``CRATON_PYTHON`` chooses another).

Every test works in a project of its own, as a plain (non-admin) user:
Craton does not keep an admin's reads inside the admin's project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

KIT_ENV = "CRATON_KIT"
DIR_ENV = "CRATON_DIR"
PYTHON_ENV = "CRATON_PYTHON"
KIT_NAME = Path("shared", "craton", "craton-server")
START_TIMEOUT = 900.0


class ServiceError(RuntimeError):
    """The server did not start; the message says why."""


def kit_path() -> Path | None:
    """The craton-server launcher, or None when it is not found."""
    override = os.environ.get(KIT_ENV)
    if override:
        return Path(override)
    cwd = Path.cwd().resolve()
    for base in (cwd, *cwd.parents):
        if (base / KIT_NAME).is_file():
            return base / KIT_NAME
    return None


def _environment() -> dict[str, str]:
    """The launcher's environment: a Python 3.11 for Craton's virtualenv."""
    env = dict(os.environ)
    if sys.version_info[:2] != (3, 11) and not env.get(PYTHON_ENV):
        found = shutil.which("python3.11")
        if found is None:
            raise ServiceError(
                "Craton needs Python 3.11 (with its venv module); install python3.11 "
                f"or set {PYTHON_ENV}"
            )
        env[PYTHON_ENV] = found
    return env


def _launch(*args: str) -> str:
    kit = kit_path()
    if kit is None or not kit.is_file():
        raise ServiceError(
            f"Craton kit not found ({kit or KIT_NAME}); set {KIT_ENV} to the craton-server launcher"
        )
    try:
        proc = subprocess.run(
            [sys.executable, str(kit), *args],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
            env=_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"craton-server {args[0]} took more than {START_TIMEOUT:g} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ServiceError(f"craton-server {' '.join(args)} failed:\n{tail}")
    return proc.stdout


@dataclass
class CratonServer:
    """A running server and its bootstrap (root) credentials."""

    base: Path
    url: str
    project_id: str
    user: str
    key: str

    def _root(self) -> dict[str, str]:
        return {
            "X-Auth-Project": self.project_id,
            "X-Auth-User": self.user,
            "X-Auth-Token": self.key,
        }

    def new_project(self, prefix: str = "test", admin: bool = False) -> dict[str, Any]:
        """A new project and a user of it; the backend options to reach it as that user."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        session = requests.Session()
        session.trust_env = False
        answer = session.post(
            f"{self.url}/projects", json={"name": name}, headers=self._root(), timeout=60
        )
        answer.raise_for_status()
        project_id = answer.json()["id"]
        body: dict[str, Any] = {"username": "osa", "project_id": project_id}
        if admin:
            body["is_admin"] = True
        answer = session.post(f"{self.url}/users", json=body, headers=self._root(), timeout=60)
        answer.raise_for_status()
        return {
            "url": self.url,
            "project_id": project_id,
            "user": "osa",
            "key": answer.json()["api_key"],
        }

    def delete_project(self, project_id: str) -> None:
        requests.delete(f"{self.url}/projects/{project_id}", headers=self._root(), timeout=60)

    def stop(self) -> None:
        _launch("stop", str(self.base))


def start_server(base: Path) -> CratonServer:
    """Start a server whose database and logs live in ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    shared = os.environ.get(DIR_ENV)
    if shared:
        cache = Path(shared).expanduser().resolve()
        _launch("start", str(cache))  # builds (or checks) the virtualenv there
        _launch("stop", str(cache))
        for name in ("venv", "src"):
            link = base / name
            if not link.exists():
                link.symlink_to(cache / name)
    info = json.loads(_launch("start", str(base)).strip().splitlines()[-1])
    return CratonServer(base, info["url"], info["project_id"], info["user"], info["key"])
