"""Encryption at rest: ``key generate FILE`` and ``rekey`` (docs/encryption.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from osa_inventory.cli.common import open_store_from
from osa_inventory.cli.flags import debug_flags, store_flags
from osa_inventory.cli.output import Output, add_format_flag


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    key = commands.add_parser("key", help="make an encryption key file")
    key_commands = key.add_subparsers(dest="key_command")
    generate = key_commands.add_parser(
        "generate",
        parents=[debug_flags()],
        help="write a new random key to FILE (mode 0600); with --force, put it first in an "
        "existing key file, the older keys kept for reading",
    )
    generate.add_argument("file", metavar="FILE", help="the key file to write")
    generate.add_argument(
        "--force",
        action="store_true",
        help="FILE exists: add the new key as its first line (the key that writes) and keep "
        "the others (they still read); never replaces anything but a regular file",
    )
    generate.set_defaults(func=cmd_key_generate)

    rekey = commands.add_parser(
        "rekey",
        parents=[store_flags()],
        help="encrypt every kept version with the key file's first key (or --decrypt them)",
        description="Under the store lock, read every kept version with any configured key "
        "and write it back encrypted with the first key of the key file: this encrypts a "
        "plain store, and after a new key was put first, lets the old keys go.",
    )
    rekey.add_argument(
        "--decrypt",
        action="store_true",
        help="write every kept version back unencrypted (then drop the key setting)",
    )
    add_format_flag(rekey)
    rekey.set_defaults(func=cmd_rekey)


def cmd_key_generate(args: argparse.Namespace) -> int:
    from osa_inventory.errors import ConfigError
    from osa_inventory.fileio import NEW_FILE_MODE, NotRegularFile, atomic_write
    from osa_inventory.sealing import KeyRef, new_key_text, parse_keys

    path = Path(args.file)
    line, kid = new_key_text()
    try:
        if not args.force:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
            except FileExistsError:
                raise ConfigError(
                    f"{path} exists; choose another file, or add --force to put the new key "
                    "first in it (the keys it holds keep reading)"
                ) from None
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                os.fchmod(handle.fileno(), NEW_FILE_MODE)  # whatever the umask
                handle.write(line + "\n")
        else:
            info = os.stat(path) if path.exists() else None
            old = path.read_text(encoding="ascii") if info is not None else ""
            parse_keys(old, KeyRef("file", str(path)))  # refuse to keep a file that is no key file
            text = f"{line}\n{old}"
            atomic_write(Path(os.path.realpath(path)), lambda f: f.write(text.encode()), info)
    except NotRegularFile as exc:
        raise ConfigError(f"{path}: {exc.strerror}; give a regular file's path") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write {path} ({exc.strerror or exc})") from exc
    print(f"wrote a new key (id {kid}) to {path}; back it up: without it the store cannot be read")
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    from osa_inventory.cli.changes import command_line
    from osa_inventory.ops.rekey import rekey

    store = open_store_from(args)
    try:
        report = rekey(store, decrypt=args.decrypt, command=command_line())
    finally:
        store.close()
    out = Output(args.format)
    if out.structured:
        out.data(report.to_dict())
        return 0
    form = f"encrypted with key {report.key_id}" if report.sealed else "unencrypted"
    if report.rewritten:
        first, last = report.rewritten[0], report.rewritten[-1]
        out.line(f"{store.label}: versions {first}-{last} rewritten, {form}")
    else:
        out.line(f"{store.label}: version {report.written} written, {form}")
    if report.left:
        why = (
            "(they cannot be read: a later version adopted changes made outside osa-inventory)"
            if report.rewritten
            else "(this backend cannot rewrite its history); keep their keys until retention "
            "drops them"
        )
        out.line(f"versions {report.left[0]}-{report.left[-1]} stay as they were {why}")
    return 0
