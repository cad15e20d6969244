"""Plug osa-inventory into OSA's Ansible without losing OSA's inventory folder.

Ansible applies the ``group_vars/`` and ``host_vars/`` that lie next to an
inventory source. OSA keeps its variables (100+ files) in ``$OSA_ROOT/inventory``
next to ``dynamic_inventory.py``, and its ``openstack-ansible`` wrapper sets
``ANSIBLE_INVENTORY`` to three sources: that script, ``inventory.ini`` beside it
and the deployer's ``$OSA_CONFIG_DIR/inventory.ini``; then it sources
``$OSA_CONFIG_DIR/user.rc``, where a deployer may override it. So the setup:

- writes a source into ``$OSA_ROOT/inventory`` under a name OSA's checkout does
  not track: ``osa_inventory.sh``, a script that runs this osa-inventory, or
  ``osa_inventory.yml``, a config of the ``osa_inventory.store.inventory``
  plugin with ``generate: true`` (Ansible runs it in its own process); either
  generates, as OSA's script does, when the inputs changed;
- puts one marked line in ``user.rc`` that sets ``ANSIBLE_INVENTORY`` to OSA's
  list with that source in place of ``dynamic_inventory.py``.

It never touches ``dynamic_inventory.py`` or anything it did not write, and
:func:`undo_changes` removes exactly what it wrote. Every step is computed
first as a :class:`Change` (what is wrong, what doing it does), so that
``--check`` reports exactly what applying would change.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osa_inventory.ansible import COLLECTION_PLUGIN
from osa_inventory.errors import ConfigError

SCRIPT = "script"
PLUGIN = "plugin"
MODES = (SCRIPT, PLUGIN)
SOURCE_NAMES = {SCRIPT: "osa_inventory.sh", PLUGIN: "osa_inventory.yml"}
SOURCE_MODES = {SCRIPT: 0o700, PLUGIN: 0o600}
NEW_FILE_MODE = 0o600
USER_RC = "user.rc"
OSA_INI = "inventory.ini"
COMMAND = "osa-inventory ansible-setup"
#: first comment line of every file this module writes; a file without it is not ours
HEADER = f"# Written by {COMMAND}; '{COMMAND} --undo' removes it."
RC_MARK = f"# added by {COMMAND}"
#: where OSA installs the virtualenv that runs Ansible (its wrapper puts it first on PATH)
ANSIBLE_RUNTIME_BIN = "/opt/ansible-runtime/bin"
PROBE_TIMEOUT = 60  # seconds

_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?ANSIBLE_INVENTORY=")
#: the collection plugin's file below a sys.path entry
_NAMESPACE, _COLLECTION, _PLUGIN = COLLECTION_PLUGIN.split(".")
PLUGIN_FILE = f"ansible_collections/{_NAMESPACE}/{_COLLECTION}/plugins/inventory/{_PLUGIN}.py"
#: run in the Python that runs Ansible: does its sys.path reach the plugin and osa_inventory?
_PROBE = """\
import importlib.util, os, sys
found = any(p and os.path.isfile(os.path.join(p, sys.argv[1])) for p in sys.path)
sys.exit(0 if found and importlib.util.find_spec("osa_inventory") else 1)
"""


@dataclass(frozen=True)
class Layout:
    """A deploy host's OSA checkout and config dir (absolute paths)."""

    osa_root: Path
    config_dir: Path

    @classmethod
    def of(cls, osa_root: str | os.PathLike[str], config_dir: str | os.PathLike[str]) -> Layout:
        """The layout, or ConfigError naming the directory that is missing or unusable."""
        root = Path(os.path.abspath(osa_root))
        config = Path(os.path.abspath(config_dir))
        if not root.is_dir():
            raise ConfigError(
                f"OSA root {root} is not a directory; give OSA's checkout with --osa-root"
            )
        if not (root / "inventory").is_dir():
            raise ConfigError(
                f"OSA root {root} has no inventory/ folder; give OSA's checkout "
                "(the folder holding inventory/dynamic_inventory.py) with --osa-root"
            )
        if not config.is_dir():
            raise ConfigError(
                f"config dir {config} is not a directory; give OSA's config dir "
                "(the folder holding openstack_user_config.yml) with --config"
            )
        for path in (root, config):
            if "," in str(path):
                raise ConfigError(
                    f"{path} holds a comma, which ANSIBLE_INVENTORY cannot carry; "
                    "use a path without one"
                )
        return cls(root, config)

    @property
    def inventory_dir(self) -> Path:
        return self.osa_root / "inventory"

    @property
    def user_rc(self) -> Path:
        return self.config_dir / USER_RC

    def source(self, mode: str) -> Path:
        return self.inventory_dir / SOURCE_NAMES[mode]

    def ansible_inventory(self, mode: str) -> str:
        """OSA's ANSIBLE_INVENTORY, with our source in place of dynamic_inventory.py."""
        sources = (self.source(mode), self.inventory_dir / OSA_INI, self.config_dir / OSA_INI)
        return ",".join(map(str, sources))


@dataclass
class Change:
    """One step: the problem as ``--check`` reports it, and what doing it did."""

    problem: str
    done: str
    perform: Callable[[], None]


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    #: what stops the setup (a file that is not ours where ours goes)
    blockers: list[str] = field(default_factory=list)
    #: worth saying on every run, never a problem
    notes: list[str] = field(default_factory=list)


# -- what the files hold ----------------------------------------------------------------------


def osa_inventory_command() -> list[str]:
    """How to run this installation's ``osa-inventory`` from anywhere (absolute paths)."""
    launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    candidates = [Path(sys.executable).parent / "osa-inventory"]
    if launched is not None and launched.name == "osa-inventory":
        candidates.insert(0, Path(os.path.abspath(launched)))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return [os.path.abspath(sys.executable), "-m", "osa_inventory.cli.main"]


def source_text(layout: Layout, mode: str, command: list[str]) -> str:
    if mode == SCRIPT:
        words = [
            *command,
            "--config",
            str(layout.config_dir),
            "--environment",
            str(layout.inventory_dir),
        ]
        return (
            f"#!/bin/sh\n{HEADER}\n"
            "# Ansible runs it as an inventory script from OSA's inventory folder, so the\n"
            "# group_vars/ and host_vars/ there apply; it generates like dynamic_inventory.py.\n"
            f'exec {shlex.join(words)} "$@"\n'
        )
    import yaml

    settings = yaml.safe_dump(
        {
            "plugin": COLLECTION_PLUGIN,
            "config_dir": str(layout.config_dir),
            "environment": str(layout.inventory_dir),
            "generate": True,
        },
        sort_keys=False,
    )
    return (
        f"{HEADER}\n"
        "# Ansible reads the inventory through this plugin config, in its own process; it\n"
        "# generates like dynamic_inventory.py when openstack_user_config.yml changed.\n"
        f"{settings}"
    )


def rc_line(value: str) -> str:
    return f"export ANSIBLE_INVENTORY={shlex.quote(value)}  {RC_MARK}\n"


def _is_assignment(line: str) -> bool:
    return _ASSIGNMENT.match(line) is not None


def _is_ours(line: str) -> bool:
    return _is_assignment(line) and line.rstrip("\r\n").endswith(RC_MARK)


def _assigned_value(line: str) -> str:
    """The value our marked line gives ANSIBLE_INVENTORY (as the shell reads it)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # unbalanced quotes after a hand edit: not a value we wrote
        return ""
    return words[-1].partition("=")[2] if words else ""


# -- reading what is there --------------------------------------------------------------------


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _not_regular(path: Path, found: os.stat_result) -> str:
    kind = "a symlink" if stat.S_ISLNK(found.st_mode) else "not a regular file"
    return f"{path} is {kind}; {COMMAND} never replaces one: move it away and run it again"


def _is_our_file(path: Path, found: os.stat_result | None) -> bool:
    return (
        found is not None and stat.S_ISREG(found.st_mode) and HEADER in _read(path).splitlines()[:2]
    )


def installed_mode(layout: Layout) -> str | None:
    """The mode this host is set up with: the source user.rc names, else the one we wrote."""
    found = _lstat(layout.user_rc)
    if found is not None and stat.S_ISREG(found.st_mode):
        ours = [line for line in _read(layout.user_rc).splitlines() if _is_ours(line)]
        if ours:
            first = _assigned_value(ours[-1]).split(",")[0]
            for mode in MODES:
                if first == str(layout.source(mode)):
                    return mode
    for mode in (PLUGIN, SCRIPT):
        if _is_our_file(layout.source(mode), _lstat(layout.source(mode))):
            return mode
    return None


# -- planning ---------------------------------------------------------------------------------


def setup_changes(layout: Layout, mode: str, command: list[str] | None = None) -> Plan:
    """What setting this host up in ``mode`` changes (nothing when it is complete)."""
    plan = Plan()
    _plan_source(plan, layout, mode, command or osa_inventory_command())
    for other in MODES:
        if other != mode:
            _plan_removal(plan, layout.source(other), f"left over from the {other} setup")
    _plan_rc(plan, layout, layout.ansible_inventory(mode))
    return plan


def undo_changes(layout: Layout) -> Plan:
    """What restoring OSA's own setup removes (nothing when nothing of ours is left)."""
    plan = Plan()
    _plan_rc(plan, layout, None)
    for mode in MODES:
        _plan_removal(plan, layout.source(mode), "written by the setup")
    return plan


def _plan_source(plan: Plan, layout: Layout, mode: str, command: list[str]) -> None:
    path = layout.source(mode)
    text = source_text(layout, mode, command)
    wanted_mode = SOURCE_MODES[mode]
    found = _lstat(path)
    if found is None:
        problem = f"{path} is missing"
    elif not stat.S_ISREG(found.st_mode):
        plan.blockers.append(_not_regular(path, found))
        return
    elif not _is_our_file(path, found):
        plan.blockers.append(
            f"{path} exists and was not written by {COMMAND}; move it away and run it again"
        )
        return
    elif _read(path) != text:
        problem = f"{path} differs from what {COMMAND} writes now ({_describe(mode, command)})"
    elif stat.S_IMODE(found.st_mode) != wanted_mode:
        problem = f"{path} has mode {stat.S_IMODE(found.st_mode):04o}, not {wanted_mode:04o}"
    else:
        return
    plan.changes.append(
        Change(
            problem=problem,
            done=f"wrote {path} ({_describe(mode, command)})",
            perform=lambda: replace_file(path, text, wanted_mode),
        )
    )


def _describe(mode: str, command: list[str]) -> str:
    if mode == SCRIPT:
        return f"a script that runs {shlex.join(command)}"
    return f"a config of the {COLLECTION_PLUGIN} plugin that generates"


def _plan_removal(plan: Plan, path: Path, why: str) -> None:
    found = _lstat(path)
    if _is_our_file(path, found):
        plan.changes.append(
            Change(
                problem=f"{path} is {why}",
                done=f"removed {path}",
                perform=lambda: _remove(path),
            )
        )


def _plan_rc(plan: Plan, layout: Layout, value: str | None) -> None:
    """Our line in user.rc setting ANSIBLE_INVENTORY to ``value`` (None: removed)."""
    path = layout.user_rc
    line = None if value is None else rc_line(value)
    found = _lstat(path)
    if found is not None and not stat.S_ISREG(found.st_mode):
        if value is not None:
            plan.blockers.append(_not_regular(path, found))
        return
    old = "" if found is None else _read(path)
    lines = old.splitlines(keepends=True)
    ours = [i for i, text in enumerate(lines) if _is_ours(text)]
    theirs = [i for i, text in enumerate(lines) if _is_assignment(text) and i not in ours]
    new = _rc_text(lines, ours, theirs, line)
    if value is not None:
        plan.notes.extend(
            f"{path}:{number} also sets ANSIBLE_INVENTORY; the line {COMMAND} wrote comes "
            "after it and wins"
            for number, text in enumerate(new.splitlines(), 1)
            if _is_assignment(text) and not _is_ours(text)
        )
    if new == old:
        return
    mode = NEW_FILE_MODE if found is None else stat.S_IMODE(found.st_mode)
    if value is None:
        plan.changes.append(_rc_removal(path, new, mode))
        return
    if not ours:
        problem = f"{path} does not set ANSIBLE_INVENTORY to osa-inventory's source"
    elif any(i > ours[0] for i in theirs):
        problem = f"{path}:{theirs[-1] + 1} sets ANSIBLE_INVENTORY after the line {COMMAND} wrote"
    else:
        problem = f"{path}:{ours[0] + 1} does not set ANSIBLE_INVENTORY={value}"
    plan.changes.append(
        Change(
            problem=problem,
            done=f"set ANSIBLE_INVENTORY={value} in {path}",
            perform=lambda: replace_file(path, new, mode),
        )
    )


def _rc_text(lines: list[str], ours: list[int], theirs: list[int], line: str | None) -> str:
    """user.rc with our line in place (or removed), every other line as it was."""
    kept = [text for i, text in enumerate(lines) if i not in ours]
    if line is None:
        return "".join(kept)
    if ours and not any(i > ours[0] for i in theirs):
        position = ours[0]  # where it was: nothing after it overrides it
    else:
        position = len(kept)
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
    kept.insert(position, line)
    return "".join(kept)


def _rc_removal(path: Path, new: str, mode: int) -> Change:
    done = f"removed the ANSIBLE_INVENTORY line from {path}; OSA's default applies again"
    if new.strip():
        return Change(
            problem=f"{path} sets ANSIBLE_INVENTORY",
            done=done,
            perform=lambda: replace_file(path, new, mode),
        )
    return Change(
        problem=f"{path} sets ANSIBLE_INVENTORY",
        done=f"{done} (removed the file, which held nothing else)",
        perform=lambda: _remove(path),
    )


# -- the plugin's reach -----------------------------------------------------------------------


def ansible_python(path: str | None = None) -> tuple[str, str] | None:
    """(ansible-playbook, the Python it runs in) as OSA's wrapper finds them, or None."""
    path = os.environ.get("PATH", "") if path is None else path
    search = os.pathsep.join([ANSIBLE_RUNTIME_BIN, path])
    playbook = shutil.which("ansible-playbook", path=search)
    if playbook is None:
        return None
    try:
        with open(playbook, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    words = first[2:].decode(errors="replace").split() if first.startswith(b"#!") else []
    if words and Path(words[0]).name == "env" and len(words) > 1:
        interpreter = shutil.which(words[1], path=search)
        return (playbook, interpreter) if interpreter else None
    return (playbook, words[0]) if words else None


def plugin_reach_problem() -> str | None:
    """Why the Python that runs Ansible would not find the plugin, or None when it would."""
    found = ansible_python()
    if found is None:
        return (
            f"no ansible-playbook in {ANSIBLE_RUNTIME_BIN} or on PATH, so the Python that "
            f"would load the {COLLECTION_PLUGIN} plugin is unknown"
        )
    playbook, python = found
    try:
        probe = subprocess.run(
            [python, "-c", _PROBE, PLUGIN_FILE],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {python} (the Python of {playbook}): {exc}"
    if probe.returncode != 0:
        return (
            f"{python} (the Python of {playbook}) does not find the {COLLECTION_PLUGIN} "
            "plugin: install osa-inventory into it (docs/install.md)"
        )
    return None


# -- writing ----------------------------------------------------------------------------------


def apply(plan: Plan) -> list[str]:
    """Perform the plan's changes in order; what was done, one line each."""
    if plan.blockers:
        raise ConfigError(plan.blockers[0])
    for change in plan.changes:
        change.perform()
    return [change.done for change in plan.changes]


def replace_file(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` by ``text`` atomically: a temporary file with ``mode``, fsync, rename."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot remove {path}: {exc.strerror}") from exc
