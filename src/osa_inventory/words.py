"""Counted words in messages: ``1 version``, ``2 versions``."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 host``, ``2 hosts`` (``words``: the plural when it is not ``word`` + s)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def kept_versions(versions: int | None) -> str:
    """What a retention of ``versions`` keeps (None or 0: every version)."""
    if not versions:
        return "every version"
    return f"at most {plural(versions, 'version')}, the current one included"
