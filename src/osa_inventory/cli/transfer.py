"""Inventories in and out of the store: ``export``, ``import``, ``migrate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from osa_inventory import progress
from osa_inventory.cli.changes import add_change_flags, command_line, replace_inventory
from osa_inventory.cli.common import open_store_from
from osa_inventory.cli.flags import store_flags
from osa_inventory.cli.history import parse_version
from osa_inventory.cli.output import Output, add_format_flag, dumps
from osa_inventory.cli.stores import open_location
from osa_inventory.errors import ConfigError
from osa_inventory.inventory import hostvars_of
from osa_inventory.words import plural


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export",
        parents=[parent],
        help="print the inventory (OSA's JSON), or with --osa OSA's per-host export",
    )
    export.add_argument(
        "--osa",
        action="store_true",
        help="OSA's inventory-manage -e format: hosts with hostvars and groups, and all vars",
    )
    export.add_argument("--version", metavar="N", help="export version N, not the current")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    add_format_flag(export, choices=("json", "yaml"), default="json")
    export.set_defaults(func=cmd_export)

    importer = commands.add_parser(
        "import",
        parents=[store_flags()],
        help="replace the stored inventory by one read from a file, as a new version",
    )
    importer.add_argument(
        "file",
        metavar="FILE",
        help="openstack_inventory.json or other inventory JSON, a backup tar "
        "(with --member), or - for standard input",
    )
    importer.add_argument(
        "--member", metavar="NAME", help="the backup to import from a tar ('latest': the newest)"
    )
    add_change_flags(importer)
    importer.set_defaults(func=cmd_import)

    migrate = commands.add_parser(
        "migrate",
        parents=[store_flags(local_copy=False)],
        help="copy the inventory and its history to another backend, then verify the copy",
        description="SOURCE and TARGET are a backend name (options from osa.ini's "
        "[backend:NAME] and --from-option/--to-option) or a URL: file:///PATH, sqlite:////PATH, "
        "postgresql+psycopg://USER@HOST/DB, mysql+pymysql://USER@HOST/DB, "
        "etcd://HOST:PORT[,HOST:PORT]/PREFIX, craton+http://USER@HOST:PORT/v1?project_id=UUID "
        "(key with --from-option/--to-option key_env=VAR). Without --from, the configured store.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="SOURCE",
        help="the store to copy: a backend name or URL (default: the configured store)",
    )
    migrate.add_argument(
        "--from-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the source (repeatable; KEY_env=VAR and KEY_file=PATH read a value)",
    )
    migrate.add_argument(
        "--to",
        dest="target",
        metavar="TARGET",
        required=True,
        help="the store to copy into: a backend name or URL",
    )
    migrate.add_argument(
        "--to-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the target (repeatable; KEY_env=VAR and KEY_file=PATH read a value)",
    )
    migrate.add_argument(
        "--force", action="store_true", help="write into a target that already holds an inventory"
    )
    migrate.add_argument(
        "--dry-run", action="store_true", help="check both ends and say what would be copied"
    )
    add_format_flag(migrate)
    migrate.set_defaults(func=cmd_migrate)


# -- export ----------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    with progress.for_stderr() as shown, progress.reporting(shown):
        return _export(args, shown)


def _export(args: argparse.Namespace, shown: progress.ProgressCallback) -> int:
    from osa_inventory.jsonio import dumps_inventory
    from osa_inventory.ops.exchange import osa_export

    store = open_store_from(args)
    try:
        reading = f"reading {store.label}"
        shown(reading, 0)
        if args.version is None:
            inventory = store.read().inventory
        else:
            inventory = store.read_version(parse_version(args.version, store))
        hosts = len(hostvars_of(inventory))
        shown(reading, hosts, hosts, "hosts")
    finally:
        store.close()
    if args.osa:
        text = dumps(osa_export(inventory), args.format)
    elif args.format == "yaml":
        text = dumps(inventory, "yaml")
    else:  # byte for byte what OSA writes (the file has no final newline)
        text = dumps_inventory(inventory)
    if args.output:
        from osa_inventory.fileio import write_output

        target = Path(args.output)
        if not target.parent.is_dir():
            raise ConfigError(f"--output {target}: directory {target.parent} does not exist")

        def write(stream: Any) -> None:
            for chunk in progress.in_chunks(text.encode(), f"writing {target}", shown):
                stream.write(chunk)

        try:  # a device, a FIFO or standard output is written to, never replaced
            write_output(target, write)
        except OSError as exc:
            raise ConfigError(f"--output {target}: cannot write ({exc.strerror or exc})") from exc
        print(f"exported {store.label} to {target}", file=sys.stderr)
    else:  # the bytes a file would hold, also when OSA's JSON has no final newline
        for piece in progress.in_chunks(text, "writing standard output", shown):
            sys.stdout.write(piece)
        sys.stdout.flush()
    return 0


# -- import ----------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from osa_inventory.cli.common import settings_from
    from osa_inventory.ops.exchange import read_import
    from osa_inventory.store.factory import store_sealing

    sealing = store_sealing(settings_from(args))  # opens a sealed file or backup member
    with progress.for_stderr() as shown, progress.reporting(shown):
        inventory, where = read_import(args.file, args.member, shown, sealing)
        return replace_inventory(
            args,
            inventory,
            message=f"import {where}",
            done=f"Imported {where}",
            extra={"source": where},
            progress=shown,
        )


# -- migrate ---------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from osa_inventory.ops.migrate import migrate

    dry = args.dry_run  # a dry run creates nothing anywhere: both ends opened as readers
    source = open_location(args, args.source, args.from_option, "--from-option", dry)
    try:
        target = open_location(args, args.target, args.to_option, "--to-option", dry)
        try:
            out = Output(args.format)
            with progress.for_stderr() as shown:
                result = migrate(
                    source,
                    target,
                    force=args.force,
                    dry_run=args.dry_run,
                    command=command_line(),
                    progress=shown,
                )
        finally:
            target.close()
    finally:
        source.close()
    if out.structured:
        out.data(result.to_dict())
        return 0
    for note in result.notes:
        out.line(f"note: {note}", "yellow")
    copied = [i.version for i in result.copied if i is not None]
    versions = f"versions {copied[0]} to {copied[-1]}" if copied else "the current inventory"
    if len(copied) == 1:
        versions = f"version {copied[0]}"
    if result.dry_run:
        out.line(
            f"Dry run: would copy {versions} ({plural(result.hosts, 'host')}) from {result.source} "
            f"to {result.target}; nothing written."
        )
        return 0
    written = [i.version for i in result.written if i is not None]
    now = f"; it is now at version {written[-1]}" if written else ""
    out.line(
        f"Copied {versions} ({plural(result.hosts, 'host')}) from {result.source} to "
        f"{result.target}{now}. Verified: the target reads back equal to the source.",
        "green",
    )
    return 0
