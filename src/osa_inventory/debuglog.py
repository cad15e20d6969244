"""Debug logging that costs nothing unless ``--debug`` set logging up.

``logging`` takes several milliseconds to import, a noticeable share of a fast
``--list``; these helpers only use it when some code already imported it.
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
