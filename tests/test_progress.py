"""Progress: bars on a terminal, phase lines in a pipe, counted in the unit that moves.

The real commands run with stderr a pipe and ``OSA_INVENTORY_PROGRESS_INTERVAL=0``
(a line for every step, so that no assertion depends on timing), and with
colour forced (bars). The line printer's own clock is checked with an
operation that reports once and then goes quiet, as a backend writing one
huge version does.
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import INVENTORY_FILE, copy_example, reference_path, require_shared_dir
from osa_inventory import progress
from test_operations import cli

EVERY_STEP = {"OSA_INVENTORY_PROGRESS_INTERVAL": "0"}
COUNT = r"[\d.,]+(?: [kMG]B| bytes)?/[\d.,]+ \S+|[\d.,]+ \S+"
LINE = re.compile(rf"^osa-inventory: (?P<phase>.+?)(?:: (?P<count>{COUNT}))? \(\d+ s\)$")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    require_shared_dir()
    config = copy_example("prod", tmp_path / "config")
    (config / INVENTORY_FILE).write_bytes(reference_path("prod").read_bytes())
    for host in ("compute1", "compute2"):  # three versions
        assert cli("hosts", "remove", host, "--config", config).returncode == 0
    return config


def phase_lines(stderr: str) -> list[tuple[str, str]]:
    """(phase, count) of every progress line; any other line fails the test."""
    found = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        assert match, line
        found.append((match.group("phase"), match.group("count") or ""))
    return found


def test_migrate_in_a_pipe_prints_phase_lines(config: Path, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    proc = cli("migrate", "--to", target, "--config", config, env=EVERY_STEP)
    assert proc.returncode == 0, proc.stderr
    lines = phase_lines(proc.stderr)
    assert ("reading source", "3/3 versions") in lines
    hosts = [count for phase, count in lines if phase == "writing target"]
    assert hosts[0] == "0/183 hosts" and hosts[-1] == "183/183 hosts"  # 62 + 61 + 60
    assert ("verifying target", "183/183 hosts") in lines
    assert proc.stdout.startswith("Copied versions 1 to 3")


def test_migrate_to_etcd_reports_the_bytes_uploaded(
    config: Path, etcd_endpoints: str, tmp_path: Path
) -> None:
    target = f"etcd://{etcd_endpoints}/progress-{tmp_path.name}"
    proc = cli("migrate", "--to", target, "--config", config, env=EVERY_STEP)
    assert proc.returncode == 0, proc.stderr
    uploads = [count for phase, count in phase_lines(proc.stderr) if "uploading to etcd" in phase]
    assert uploads and re.fullmatch(r"([\d.]+ kB)/\1", uploads[-1]), uploads


def test_import_export_and_first_write_in_a_pipe(config: Path, tmp_path: Path) -> None:
    exported = tmp_path / "export.json"
    proc = cli("export", "-o", exported, "--config", config, env=EVERY_STEP)
    assert proc.returncode == 0, proc.stderr
    size = exported.stat().st_size
    writes = [
        c for p, c in phase_lines(proc.stderr.split("exported")[0]) if p.startswith("writing")
    ]
    assert writes[-1] == f"{size / 1000:.1f} kB/{size / 1000:.1f} kB"
    proc = cli("import", exported, "--config", config, env=EVERY_STEP)
    assert proc.returncode == 0, proc.stderr
    lines = phase_lines(proc.stderr)
    assert (f"reading {exported}", f"{size / 1000:.1f} kB/{size / 1000:.1f} kB") in lines
    assert any(p.startswith("writing file:") and c == "60/60 hosts" for p, c in lines)
    fresh = copy_example("prod", tmp_path / "fresh")
    env_dir = require_shared_dir() / "inventory"
    proc = cli("--config", fresh, "-e", env_dir, "--list", env=EVERY_STEP)
    assert proc.returncode == 0, proc.stderr
    lines = phase_lines(proc.stderr)
    assert ("generating the inventory", "62/62 hosts") in lines
    assert ("writing the store", "62/62 hosts") in lines
    again = cli("--config", fresh, "-e", env_dir, "--list", env=EVERY_STEP)
    assert again.returncode == 0 and again.stderr == ""  # the fast path reports nothing


def test_bars_on_a_terminal_count_hosts(config: Path, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    proc = cli("migrate", "--to", target, "--config", config, env={"FORCE_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", proc.stderr)
    assert "writing target" in plain and "183/183 hosts" in plain
    assert "reading source" in plain and "3/3 versions" in plain


class Lines(io.StringIO):
    """A stream that says when a line arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        self.arrived.set()
        return count


def test_a_quiet_phase_still_gets_a_line_every_interval() -> None:
    """A phase that reports once and then works for a long time is not silent."""
    stream = Lines()
    shown = progress.LineProgress(stream, "osa-inventory", interval=0.05)
    try:
        shown("writing target", 0, 10280, "hosts")
        assert stream.arrived.wait(60), "no line while the phase was under way"
    finally:
        shown.close()
    assert stream.getvalue().startswith("osa-inventory: writing target: 0/10,280 hosts (")


def test_nothing_is_printed_when_no_phase_is_under_way() -> None:
    stream = Lines()
    shown = progress.LineProgress(stream, "osa-inventory", interval=3600)
    shown("reading source", 1, 1, "versions")
    shown.close()
    assert stream.getvalue() == ""


def test_backends_report_to_the_operation_in_their_context() -> None:
    seen: list[tuple[Any, ...]] = []
    progress.report("outside", 1)  # nowhere: no operation under way

    def record(phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        seen.append((phase, done, total, unit))

    with progress.reporting(record):
        progress.report("uploading to etcd", 2048, 4096, progress.BYTES)
    progress.report("outside again", 1)
    assert seen == [("uploading to etcd", 2048, 4096, "bytes")]
    assert progress.counted(2048, 4096, "bytes") == "2.0 kB/4.1 kB"
    assert progress.counted(12, None, "versions") == "12 versions"
