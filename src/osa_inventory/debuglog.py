"""Debug logging that costs nothing unless ``--debug`` set logging up.

``logging`` takes several milliseconds to import, a noticeable share of a fast
``--list``; these helpers only use it when some code already imported it.
:func:`start_debug_log` is what ``--debug`` does: a log file created 0600,
never written through a symbolic link, every line passed through the secrets
rule of :mod:`osa_inventory.redact`.
"""

from __future__ import annotations

import sys
from typing import Any

LOGGER_NAME = "osa_inventory"


def debug(message: str, *args: Any, exc_info: bool = False) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(LOGGER_NAME).debug(message, *args, exc_info=exc_info)


def warning(message: str, *args: Any) -> None:
    import logging

    logging.getLogger(LOGGER_NAME).warning(message, *args)


def start_debug_log(path: str) -> None:
    """Log everything (DEBUG and up) to ``path``, secrets masked. Raises OSError."""
    import io
    import logging

    from osa_inventory.fileio import open_append
    from osa_inventory.redact import redact_text

    class Redacting(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact_text(super().format(record))

    stream = io.TextIOWrapper(open_append(path), encoding="utf-8", line_buffering=True)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Redacting("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
