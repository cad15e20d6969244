"""The one rule that keeps secrets out of everything osa-inventory shows or records.

What is secret:

* a backend option its schema declares ``Option(secret=True)``;
* an option the schema does not declare (or of a backend that cannot be
  loaded) whose name looks secret: it holds ``password``, ``passwd``,
  ``secret`` or ``token``, or has ``key`` as one of its words (``api_key``);
* the password of a URL, ``scheme://user:PASSWORD@host``;
* the value of every secret option this process resolved (:func:`remember`),
  wherever it appears.

``X_env`` and ``X_file`` options are references (the name of a variable, the
path of a file), never secrets: they are shown as they are.

``config show`` applies the rule to each setting (:func:`shown_option`). Free
text, where an option's backend is unknown (the command lines recorded in the
history and in lock holders, the ``--debug`` log, error messages, the local
cache's header), goes through :func:`redact_text` or, for a command line still
split in words, :func:`redact_argv`: a ``key=value`` word is masked when any
backend loaded in this process declares ``key`` secret, or none declares it
and its name looks secret.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MASK",
    "SECRET_WORDS",
    "learn_schema",
    "looks_secret",
    "mask_url_password",
    "option_is_secret",
    "redact_argv",
    "redact_command",
    "redact_text",
    "remember",
    "shown_option",
]

MASK = "********"
SECRET_WORDS = ("password", "passwd", "secret", "token", "key")
REFERENCE_SUFFIXES = ("_env", "_file")
#: shorter values are not masked wherever they appear (they would mask ordinary words)
MIN_REMEMBERED = 4

# patterns, compiled (by re, once) on first use: most runs mask nothing
_URL_PASSWORD = r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?=@)"
# a word of free text: a quoted string, or a run of non-blanks
_WORD = r"'[^']*'|\"[^\"]*\"|\S+"
_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*$"

#: option name -> declared secret, from every backend schema this process has seen
_declared: dict[str, bool] = {}
#: secret values resolved by this process (masked wherever they appear)
_remembered: set[str] = set()


def looks_secret(name: str) -> bool:
    """Whether an option's name looks like that of a secret (references excepted)."""
    lowered = name.lower()
    if lowered.endswith(REFERENCE_SUFFIXES):
        return False
    words = re.split(r"[^a-z0-9]+", lowered)
    if "key" in words and len(words) > 1:  # api_key, cert-key; not keystone, nor key=value
        return True
    return any(word in lowered for word in SECRET_WORDS if word != "key")


def option_is_secret(key: str, schema: Mapping[str, Any] | None) -> bool:
    """Whether option ``key`` is secret for a backend with option ``schema``.

    ``schema`` is the backend class's ``options`` (:class:`~.store.backend.Option`
    by name), or None when the backend cannot be loaded or declares none.
    """
    if key.lower().endswith(REFERENCE_SUFFIXES):
        return False
    if schema is not None and key in schema:
        return bool(getattr(schema[key], "secret", False))
    return looks_secret(key)


def mask_url_password(text: str) -> str:
    """``scheme://user:password@host`` with the password masked."""
    if "://" not in text:
        return text
    return re.sub(_URL_PASSWORD, lambda m: m.group("head") + MASK, text)


def shown_option(key: str, value: Any, schema: Mapping[str, Any] | None) -> str:
    """An option's value as ``config show`` (or any listing) may show it."""
    if option_is_secret(key, schema):
        return MASK
    return redact_text(str(value))


def learn_schema(backend_class: Any) -> None:
    """Note which options a loaded backend class declares, and which of them are secret."""
    schema = getattr(backend_class, "options", None)
    if isinstance(schema, Mapping):
        for key, option in schema.items():
            _declared[key] = _declared.get(key, False) or bool(getattr(option, "secret", False))


def remember(value: Any) -> None:
    """Mask ``value`` (a resolved secret) wherever it appears in free text from now on."""
    text = str(value) if value is not None else ""
    if len(text) >= MIN_REMEMBERED:
        _remembered.add(text)


def _key_is_secret(key: str) -> bool:
    if key.lower().endswith(REFERENCE_SUFFIXES):
        return False
    if key in _declared:
        return _declared[key]
    return looks_secret(key)


def _redact_word(word: str) -> str:
    """One word: ``key=value`` (also ``--flag=key=value``) with a secret key's value masked."""
    if "=" in word:
        parts = word.split("=")
        for index, part in enumerate(parts[:-1]):
            key = re.search(_KEY, part)
            if key is not None and _key_is_secret(key.group()):
                quote = word[0] if word[0] in "'\"" and word.endswith(word[0]) else ""
                word = "=".join(parts[: index + 1]) + "=" + MASK + quote
                break
    return mask_url_password(word)


def _forget_remembered(text: str) -> str:
    for value in sorted(_remembered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_text(text: str) -> str:
    """Free text with every secret masked (see the module docstring)."""
    if not text:
        return text
    text = _forget_remembered(text)
    if "=" not in text and "://" not in text:
        return text
    return re.sub(_WORD, lambda m: _redact_word(m.group()), text)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line, word by word, with every secret masked."""
    return [_forget_remembered(_redact_word(word)) for word in argv]


def redact_command(argv: Sequence[str] | None = None) -> str:
    """This process's command line (or ``argv``) as recorded: program name without its
    directory, words quoted as a shell needs them, secrets masked."""
    words = list(sys.argv if argv is None else argv)
    if words:
        words[0] = os.path.basename(words[0]) or words[0]
    import shlex

    return shlex.join(redact_argv(words))
