"""The last resort of every command: an unexpected exception or exit, on one line.

osa-inventory's own errors are :class:`~osa_inventory.errors.OsaInventoryError`
and handled by :func:`osa_inventory.cli.common.execute`. Anything else is a bug,
ours or a backend plugin's: it still gets one line (naming the plugin when the
failure happened in its code) and a non-zero exit, never a traceback on the
terminal and never an empty success for Ansible. ``--debug`` logs the traceback.
"""

from __future__ import annotations

import sys
from types import TracebackType

#: exit status of an unexpected failure (a bug); see osa_inventory.errors for the others
CRASH_EXIT = 1
_OWN_PACKAGE = "osa_inventory"


def report_crash(prog: str, exc: BaseException) -> int:
    """Print one line about ``exc`` (an exception or a ``SystemExit``); the exit status."""
    from osa_inventory.debuglog import debug

    debug("unexpected failure", exc_info=True)
    where = _foreign_module(exc.__traceback__)
    origin = f" in {where}" if where else ""
    if isinstance(exc, SystemExit):
        what = f"sys.exit({exc.code!r}) was called{origin}"
    else:
        detail = str(exc).strip().splitlines()
        what = f"unexpected {type(exc).__name__}{origin}" + (f": {detail[0]}" if detail else "")
    print(
        f"{prog}: error: {what}; rerun with --debug to log the traceback to inventory.log, "
        "and report it",
        file=sys.stderr,
    )
    return CRASH_EXIT


def _foreign_module(tb: TracebackType | None) -> str:
    """The innermost module outside the standard library and osa-inventory ('' if none)."""
    found = ""
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        top = module.partition(".")[0]
        if module and top != _OWN_PACKAGE and top not in sys.stdlib_module_names:
            found = module
        tb = tb.tb_next
    return found
