"""Times as the product shows them: local time, always with its UTC offset."""

from __future__ import annotations

import time

TABLE_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # 2026-03-02 10:14:07 +0100
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # 2026-03-02T10:14:07+0100


def local_time(seconds: float) -> str:
    """``seconds`` since the epoch as local time with its offset, for people."""
    return time.strftime(TABLE_FORMAT, time.localtime(seconds))


def iso_time(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 local time with its offset, for scripts."""
    return time.strftime(ISO_FORMAT, time.localtime(seconds))
