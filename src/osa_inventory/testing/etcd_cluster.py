"""A real etcd cluster on loopback for the tests, started from the installed ``etcd``.

:class:`EtcdCluster` runs N members (3 by default) from the binary of Debian's
``etcd-server`` package, each with its own data dir below the test run's
temporary directory, on free loopback ports below 32768. Members can be
killed (``SIGKILL``) and restarted with their data, to test failover and loss
of quorum. :func:`require_etcd` skips a test when the binary is missing, or
fails it under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install etcd-server"
PORT_RANGE = (20000, 32000)
START_TIMEOUT = 30.0
# Short raft timings: elections after a killed leader take ~0.5 s, not ~2 s.
HEARTBEAT_MS = 50
ELECTION_MS = 500


def etcd_binary() -> str | None:
    return os.environ.get("OSA_TEST_ETCD") or shutil.which("etcd")


def require_etcd() -> str:
    """The etcd binary; skip the test when it is missing (fail under CI=true)."""
    binary = etcd_binary()
    if binary is None:
        message = f"etcd not found on PATH; install it with: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, taken: set[int] | None = None) -> list[int]:
    """``count`` distinct loopback ports in PORT_RANGE that are free right now."""
    taken = set(taken or ())
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(*PORT_RANGE)
        if port not in taken and _port_free(port):
            taken.add(port)
            ports.append(port)
    return ports


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    """Create a CA and two certificates with the ``openssl`` command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl not found on PATH; install it with: apt-get install openssl"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    directory.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=osa-inventory test CA")  # fmt: skip
    # etcd's JSON gateway calls its own gRPC port with the server certificate, so with
    # --client-cert-auth that certificate must be good for client authentication too.
    for name, usage in (("server", "serverAuth,clientAuth"), ("client", "clientAuth")):
        run("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=osa-inventory test {name}")  # fmt: skip
        (directory / f"{name}.ext").write_text(
            f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n"
        )
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext")  # fmt: skip
    return TlsFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    scheme: str = "http"
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class EtcdCluster:
    """N etcd members on loopback; ``start()`` blocks until the cluster is healthy."""

    base_dir: Path
    size: int = 3
    binary: str = "etcd"
    extra_args: tuple[str, ...] = ()
    #: serve clients over TLS, requiring client certificates signed by the CA
    tls: TlsFiles | None = None
    members: list[Member] = field(default_factory=list)

    @property
    def endpoints(self) -> str:
        """The ``endpoints`` option value for the whole cluster."""
        return ",".join(m.endpoint for m in self.members)

    def start(self, attempts: int = 3) -> EtcdCluster:
        for attempt in range(attempts):
            self._plan()
            for member in self.members:
                self._spawn(member, new=True)
            try:
                self.wait_healthy()
                return self
            except RuntimeError:
                self.stop()  # most likely a port taken meanwhile: new ports, new dirs
                if attempt == attempts - 1:
                    raise
        return self

    def _plan(self) -> None:
        ports = free_ports(2 * self.size)
        run = f"run{random.randint(0, 1 << 30):x}"
        self.members = [
            Member(
                name=f"m{i}",
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                data_dir=self.base_dir / run / f"m{i}",
                log_path=self.base_dir / run / f"m{i}.log",
                scheme="https" if self.tls else "http",
            )
            for i in range(self.size)
        ]

    def _spawn(self, member: Member, *, new: bool) -> None:
        member.data_dir.parent.mkdir(parents=True, exist_ok=True)
        cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        client_url = member.client_url
        tls_args: list[str] = []
        if self.tls is not None:
            tls_args = [
                "--cert-file", str(self.tls.server_cert),
                "--key-file", str(self.tls.server_key),
                "--trusted-ca-file", str(self.tls.ca),
                "--client-cert-auth",
            ]  # fmt: skip
        args = [
            self.binary,
            "--name", member.name,
            "--data-dir", str(member.data_dir),
            "--listen-client-urls", client_url,
            "--advertise-client-urls", client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", cluster,
            "--initial-cluster-token", member.data_dir.parent.name,
            "--initial-cluster-state", "new" if new else "existing",
            "--heartbeat-interval", str(HEARTBEAT_MS),
            "--election-timeout", str(ELECTION_MS),
            "--log-level", "warn",
            *tls_args,
            *self.extra_args,
        ]  # fmt: skip
        log = open(member.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            member.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()

    def _open(self, request: str | urllib.request.Request, timeout: float) -> bytes:
        context = self.tls.context() if self.tls else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.read()

    def post(self, member: Member, path: str, body: dict, timeout: float = 5.0) -> dict:
        """POST to the member's v3 JSON API (for set-up steps such as enabling auth)."""
        request = urllib.request.Request(
            f"{member.client_url}/v3/{path}", data=json.dumps(body).encode(), method="POST"
        )
        return json.loads(self._open(request, timeout))

    def health(self, member: Member, timeout: float = 1.0) -> bool:
        try:
            return (
                json.loads(self._open(f"{member.client_url}/health", timeout)).get("health")
                == "true"
            )
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every running member reports health (it has a leader)."""
        deadline = time.monotonic() + timeout
        while True:
            running = [m for m in self.members if m.running]
            failed = [
                m
                for m in self.members
                if m.process is not None
                and not m.running
                and m.process.returncode not in (None, -signal.SIGKILL)
            ]
            if failed:
                raise RuntimeError(f"etcd member exited: {self.log_tail(failed[0])}")
            if running and all(self.health(m) for m in running):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd cluster not healthy after {timeout:g} s")
            time.sleep(0.1)

    def log_tail(self, member: Member, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(member.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def leader(self) -> Member:
        """The member that currently leads (asked through the v3 JSON API)."""
        for member in self.members:
            if not member.running:
                continue
            with contextlib.suppress(OSError, ValueError, KeyError):
                status = self.post(member, "maintenance/status", {}, timeout=1.0)
                if status["leader"] == status["header"]["member_id"]:
                    return member
        raise RuntimeError("no etcd member is leading")

    def kill(self, member: Member) -> None:
        """SIGKILL one member (as a crash would) and reap it."""
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(signal.SIGKILL)
            member.process.wait(timeout=10)

    def pause(self, member: Member) -> None:
        """SIGSTOP a member: it accepts connections but never answers (a hung host)."""
        if member.process is not None:
            member.process.send_signal(signal.SIGSTOP)

    def resume(self, member: Member) -> None:
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(signal.SIGCONT)

    def restart(self, member: Member, wait: bool = True) -> None:
        """Start a killed member again on its data dir and ports."""
        if not member.running:
            self._spawn(member, new=False)
        if wait:
            self.wait_healthy()

    def restart_all(self) -> None:
        """Resume paused members, start killed ones, wait for health."""
        for member in self.members:
            self.resume(member)
            if not member.running:
                self.restart(member, wait=False)
        self.wait_healthy()

    def stop(self) -> None:
        """Stop every member (the data dirs are the test run's and go with it)."""
        for member in self.members:
            if member.process is not None and member.process.poll() is None:
                member.process.terminate()
        for member in self.members:
            if member.process is None:
                continue
            try:
                member.process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # a member without quorum may linger
                member.process.kill()
                member.process.wait(timeout=10)
