"""``osa-inventory doctor``: settings, backend, schema, lock and the stored inventory's health.

Exit status 0 when every check passes (warnings allowed), 1 when one fails.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from osa_inventory.cli.admin import typed_setting_rows
from osa_inventory.cli.common import settings_from
from osa_inventory.cli.flags import store_flags
from osa_inventory.cli.output import Output, add_format_flag
from osa_inventory.errors import OsaInventoryError
from osa_inventory.inventory import empty_inventory
from osa_inventory.redact import redact_text
from osa_inventory.words import kept_versions, plural

PROBLEM_EXIT = 1
_NO_INVENTORY = (
    "{label} holds no inventory: a wrong --config (or OSA_CONFIG_DIR) or backend setting? "
    "Fix them, or generate the inventory with 'osa-inventory --list'"
)


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=[store_flags(writes=False, local_copy=False)],
        help="check settings, backend, schema, lock and the stored inventory; exit 1 on a problem",
    )
    add_format_flag(doctor)
    doctor.set_defaults(func=cmd_doctor)


@dataclass(frozen=True)
class Row:
    check: str
    status: str  # ok, warn, FAIL, skip, info
    detail: str


def _store_rows(settings: Any) -> tuple[list[Row], dict[str, Any] | None]:
    """Backend, schema, lock and history rows, and the stored inventory (None if unreadable)."""
    from osa_inventory.store import open_store

    rows: list[Row] = []
    try:  # the backend itself: never a local copy kept for outages
        store = open_store(settings, warn=lambda message: None, local_copy=False)
    except OsaInventoryError as exc:
        return [Row("backend", "FAIL", str(exc))], None
    try:
        rows.append(Row("backend", "ok", store.label))
        rows.append(_schema_row(store))
        try:
            snapshot = store.read()
        except OsaInventoryError as exc:
            rows.append(Row("reachable", "FAIL", str(exc)))
            return rows, None
        hosts = plural(len(snapshot.inventory.get("_meta", {}).get("hostvars", {})), "host")
        rows.append(Row("reachable", "ok", f"read {_what_was_read(store, snapshot)}: {hosts}"))
        rows.append(_encryption_row(store))
        empty = snapshot.version is None and snapshot.inventory == empty_inventory()
        if empty:
            rows.append(Row("inventory", "FAIL", _NO_INVENTORY.format(label=store.label)))
        rows.append(_lock_row(store))
        rows.append(_history_row(store))
        rows.append(_secrets_row(store))
        rows.append(_lookups_row(store, snapshot.inventory))
        rows += _backend_rows(store)
        return rows, None if empty else snapshot.inventory
    finally:
        store.close()


def _encryption_row(store: Any) -> Row:
    """Whether a key is configured, the store is sealed, and every kept version opens."""
    keys = store.sealing.keys
    sealed = store.stored_sealed
    if keys is None:
        return Row("encryption", "info", "no key configured: the store is not encrypted")
    configured = f"{keys.ref.describe()}, writes with key {keys.write_id}"
    if not sealed:
        return Row(
            "encryption",
            "warn",
            f"{configured}, but the store is not encrypted: run 'osa-inventory rekey'",
        )
    if not store.versioned:
        return Row("encryption", "ok", f"{configured}; the inventory opens")
    try:
        versions = store.history()
        for info in versions:
            store.read_version(info.version)
    except OsaInventoryError as exc:
        return Row("encryption", "FAIL", str(exc))
    return Row("encryption", "ok", f"{configured}; all {plural(len(versions), 'version')} open")


def _what_was_read(store: Any, snapshot: Any) -> str:
    if snapshot.version is not None:
        return f"version {snapshot.version.version}"
    return "the inventory (no version written yet)" if store.versioned else "the inventory"


def _schema_row(store: Any) -> Row:
    from osa_inventory.store.backend import SchemaAdmin

    schema = store.capability(SchemaAdmin)
    if schema is None:
        name = getattr(store.backend, "name", "this backend")
        return Row("schema", "skip", f"{name} has no schema")
    try:
        state = schema.schema_status()
    except OsaInventoryError as exc:
        return Row("schema", "FAIL", str(exc))
    current = state.current or "none yet"
    detail = f"revision {current}, latest {state.head}: {state.state}"
    if state.current == state.head:
        return Row("schema", "ok", detail)
    return Row("schema", "FAIL" if not state.known else "warn", detail)


def _lock_row(store: Any) -> Row:
    try:
        holder = store.lock_status()
    except OsaInventoryError as exc:
        return Row("lock", "FAIL", str(exc))
    if holder is None:
        return Row("lock", "ok", "not locked")
    if store.is_abandoned(holder):
        return Row(
            "lock", "warn", f"lock of {holder.describe()}, whose process is gone; the next "
            "writer takes it over"
        )  # fmt: skip
    return Row("lock", "info", f"held by {holder.describe()}: {redact_text(holder.command)}")


def _secrets_row(store: Any) -> Row:
    try:
        found = store.recorded_secrets()
    except OsaInventoryError as exc:
        return Row("secrets", "FAIL", str(exc))
    if not found:
        return Row("secrets", "ok", "no secret in the history or the lock holder")
    return Row(
        "secrets",
        "FAIL",
        f"secrets recorded (by an older osa-inventory) in {', '.join(found)}; mask them with: "
        "osa-inventory history redact",
    )


def _lookups_row(store: Any, inventory: dict[str, Any]) -> Row:
    from osa_inventory.lookups import describe, executable_values

    found = executable_values(inventory)
    if not found:
        return Row("lookups", "ok", "no value that Ansible would execute (Jinja lookups)")
    status = "warn" if store.allow_jinja_lookups else "FAIL"
    return Row(
        "lookups",
        status,
        f"{len(found)} stored value(s) that Ansible would execute, e.g. {describe(found)}; "
        "see docs/security.md",
    )


def _history_row(store: Any) -> Row:
    if not store.versioned:
        return Row("history", "info", "this backend keeps no history")
    try:
        versions = store.history()
    except OsaInventoryError as exc:
        return Row("history", "FAIL", str(exc))
    retention = store.retention()
    keeps = f"; keeps {kept_versions(retention.versions)}" if retention else ""
    if not versions:
        return Row("history", "ok", f"no versions yet{keeps}")
    span = f"{versions[0].version} to {versions[-1].version}"
    return Row("history", "ok", f"{plural(len(versions), 'version')}, {span}{keeps}")


def _backend_rows(store: Any) -> list[Row]:
    """The backend's own checks (:class:`~osa_inventory.store.backend.DoctorChecks`), if any."""
    from osa_inventory.store.backend import DoctorChecks

    backend = store.capability(DoctorChecks)
    if backend is None:
        return []
    try:
        return [Row(*row) for row in backend.doctor_checks()]
    except OsaInventoryError as exc:
        return [Row(getattr(backend, "name", "") or "backend", "FAIL", str(exc))]


def _cidrs(config_dir: str) -> tuple[dict[str, Any] | None, str]:
    """Network CIDRs from the user config, or (None, why not)."""
    from osa_inventory.fingerprint import USER_CONFIG_NAME
    from osa_inventory.ops.consistency import network_cidrs
    from osa_inventory.sources import load_user_config

    if not (Path(config_dir) / USER_CONFIG_NAME).is_file():
        return None, f"no {USER_CONFIG_NAME} in {config_dir} (set --config)"
    try:
        return network_cidrs(load_user_config(config_dir).data), ""
    except OsaInventoryError as exc:
        return None, f"user config unreadable: {exc}"


def cmd_doctor(args: argparse.Namespace) -> int:
    from osa_inventory.ops.consistency import check_inventory

    out = Output(args.format)
    settings_rows: list[tuple[str, str, str]] = []
    typed_rows: list[tuple[str, Any, str]] = []  # numbers as numbers, for JSON and YAML
    try:
        settings = settings_from(args)
        settings_rows, typed_rows = settings.rows(), typed_setting_rows(settings)
        ini = str(settings.ini_path or "none (defaults)")
        rows = [Row("settings", "ok", f"osa.ini: {ini}")]
        store_rows, inventory = _store_rows(settings)
        rows += store_rows
    except OsaInventoryError as exc:
        rows, inventory = [Row("settings", "FAIL", str(exc))], None
    if inventory is not None:
        cidrs, why = _cidrs(args.config)
        for result in check_inventory(inventory, cidrs, why):
            rows.append(Row(result.name, result.status, result.detail()))
    failed = [r for r in rows if r.status == "FAIL"]
    if out.structured:
        out.data(
            {
                "ok": not failed,
                "settings": [{"setting": k, "value": v, "source": s} for k, v, s in typed_rows],
                "checks": [asdict(r) for r in rows],
            }
        )
        return PROBLEM_EXIT if failed else 0
    if settings_rows:
        out.table(["setting", "value", "source"], settings_rows, title="Settings", wrap=["source"])
        out.line()
    out.table(
        ["check", "status", "detail"],
        [[r.check, r.status, r.detail] for r in rows],
        title="Checks",
        wrap=["detail"],
    )
    out.line()
    if failed:
        found = ", ".join(r.check for r in failed)
        out.line(f"{plural(len(failed), 'problem')} found: {found}", "red")
        return PROBLEM_EXIT
    out.line("No problems found.", "green")
    return 0
