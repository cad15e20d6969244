"""Encryption at rest: the sealed form of a stored inventory (docs/encryption.md).

A store with an encryption key keeps each version as one *sealed* value, made
by AES-256-GCM (``cryptography``) over the inventory's canonical bytes
(:func:`osa_inventory.jsonio.dumps_inventory`)::

    osa-inventory-sealed:1:<key id>:<base64(nonce + ciphertext + tag)>

The key id (16 hex digits derived from the key) says which key sealed it, so a
reader holding several keys (rotation) tries only the right one. The
associated data binds the value to its header and to the inventory name it
was written for: a value moved to another store, or an edited header, fails
authentication like a flipped byte does.

Backends keep the sealed value as an *envelope*, an inventory with no hosts
whose ``_meta`` holds it (:func:`envelope`), so every backend stores it with
its ordinary code; the file backend writes the bare line instead
(:func:`stored_bytes`), which OSA's tools cannot read as JSON. The
:class:`~osa_inventory.store.store.Store` front end seals on the way in and
opens on the way out (:class:`Sealing`); the ``cryptography`` module is imported
only when a key is configured.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osa_inventory.errors import ConfigError, StoreCorrupt

__all__ = [
    "ENVELOPE_KEY",
    "INSTALL_HINT",
    "KeyRef",
    "Keyring",
    "Sealing",
    "envelope",
    "is_sealed_bytes",
    "new_key_text",
    "parse_stored",
    "stored_bytes",
    "token_of",
]

MAGIC = "osa-inventory-sealed"
PREFIX = f"{MAGIC}:1:"
#: the ``_meta`` key of an envelope
ENVELOPE_KEY = "osa_inventory_sealed"
#: how a key line starts in a key file (or an environment variable)
KEY_PREFIX = "osa-inventory-key-1:"
KEY_BYTES = 32
NONCE_BYTES = 12
INSTALL_HINT = "pip install 'osa-inventory[encryption]'"
#: where the key is configured, for messages that ask for it
HOW_TO_CONFIGURE = (
    "set encryption_key_file in [inventory] of osa.ini, OSA_INVENTORY_ENCRYPTION_KEY_FILE, "
    "or --encryption-key-file (docs/encryption.md)"
)


# -- the stored forms (no cryptography needed) -----------------------------------------


def envelope(token: str) -> dict[str, Any]:
    """The inventory a backend stores for the sealed value ``token``."""
    return {"_meta": {"hostvars": {}, ENVELOPE_KEY: token}}


def token_of(inventory: Mapping[str, Any], source: str) -> str | None:
    """The sealed value an envelope holds; None for a plain inventory."""
    meta = inventory.get("_meta")
    if type(meta) is not dict or ENVELOPE_KEY not in meta:
        return None
    token = meta[ENVELOPE_KEY]
    if not isinstance(token, str) or len(inventory) != 1 or meta.get("hostvars") != {}:
        raise StoreCorrupt(f"{source}: the sealed inventory is damaged (not a whole envelope)")
    return token


def is_sealed_bytes(data: bytes) -> bool:
    return data.startswith(MAGIC.encode())


def stored_bytes(inventory: dict[str, Any]) -> bytes:
    """The bytes a file keeps for ``inventory``: the bare sealed line for an envelope."""
    from osa_inventory.jsonio import dumps_inventory_bytes

    token = token_of(inventory, "inventory to store")
    if token is not None:
        return token.encode("ascii") + b"\n"
    return dumps_inventory_bytes(inventory)


def parse_stored(data: bytes, source: str) -> dict[str, Any]:
    """What :func:`stored_bytes` wrote: an envelope for a sealed line, else the JSON."""
    if is_sealed_bytes(data):
        try:
            return envelope(data.decode("ascii").strip())
        except UnicodeDecodeError as exc:
            raise StoreCorrupt(f"{source}: the sealed inventory is damaged (not ASCII)") from exc
    from osa_inventory.fileio import parse_bytes

    return parse_bytes(data, source)


# -- keys ------------------------------------------------------------------------------


def key_id(key: bytes) -> str:
    """16 hex digits naming ``key`` (not secret: a digest it cannot be recovered from)."""
    return hashlib.sha256(b"osa-inventory key id\0" + key).hexdigest()[:16]


def new_key_text() -> tuple[str, str]:
    """A new random key as a key file line, and its key id."""
    key = os.urandom(KEY_BYTES)
    import base64  # keys only: reading and writing a store need binascii alone

    return KEY_PREFIX + base64.urlsafe_b64encode(key).decode("ascii"), key_id(key)


@dataclass(frozen=True)
class KeyRef:
    """Where the keys are: a file (``file``) or an environment variable (``env``);
    the keys themselves are never kept in settings, shown or recorded."""

    kind: str
    where: str

    def describe(self) -> str:
        return f"key file {self.where}" if self.kind == "file" else f"environment {self.where}"

    def read_text(self) -> str:
        if self.kind == "env":
            text = os.environ.get(self.where)
            if not text:
                raise ConfigError(
                    f"encryption_key_env names environment variable {self.where}, which is not "
                    "set; export it with the key (osa-inventory key generate FILE makes one)"
                )
            return text
        try:
            return Path(self.where).read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise ConfigError(
                f"encryption key file {self.where} does not exist; fix the path, or create it "
                f"with 'osa-inventory key generate {self.where}'"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a key file"
            raise ConfigError(
                f"cannot read encryption key file {self.where} ({reason}); fix the path or "
                "its permissions"
            ) from exc


class Keyring:
    """The configured keys: the first seals, every one opens what it sealed."""

    def __init__(self, keys: Sequence[bytes], ref: KeyRef) -> None:
        if not keys:
            raise ConfigError(f"{ref.describe()} holds no key; {_KEY_FORMAT}")
        self.ref = ref
        self.keys = {key_id(k): k for k in reversed(keys)}
        self.write_id = key_id(keys[0])
        self._aead: dict[str, Any] = {}

    @classmethod
    def load(cls, ref: KeyRef) -> Keyring:
        return cls(parse_keys(ref.read_text(), ref), ref)

    def cipher(self, kid: str) -> Any:
        if kid not in self._aead:
            try:
                from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            except ImportError as exc:
                raise ConfigError(
                    f"an encryption key is configured ({self.ref.describe()}) but the "
                    f"cryptography module is missing; run {INSTALL_HINT}"
                ) from exc
            self._aead[kid] = AESGCM(self.keys[kid])
        return self._aead[kid]


_KEY_FORMAT = (
    f"a key line starts with {KEY_PREFIX} (make one with 'osa-inventory key generate FILE')"
)


def parse_keys(text: str, ref: KeyRef) -> list[bytes]:
    """The keys of a key file or variable: one per line (or word), '#' starts a comment."""
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        for word in line.split("#", 1)[0].split():
            key = _decode_key(word)
            if key is None:  # never show the line: it may be a key with a typo
                raise ConfigError(f"{ref.describe()}: line {number} is not a key; {_KEY_FORMAT}")
            keys.append(key)
    return keys


def _decode_key(word: str) -> bytes | None:
    if not word.startswith(KEY_PREFIX):
        return None
    import base64

    try:
        key = base64.urlsafe_b64decode(word[len(KEY_PREFIX) :].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return key if len(key) == KEY_BYTES else None


# -- sealing and opening ---------------------------------------------------------------


class Sealing:
    """How one store seals and opens its inventories.

    ``keys`` None: no key configured; such a store writes plain inventories and
    refuses to read a sealed one. ``context`` (the inventory name) is bound to
    every value sealed, so a value copied from another store does not open.
    """

    def __init__(self, keys: Keyring | None, context: str) -> None:
        self.keys = keys
        self.context = context

    @property
    def on(self) -> bool:
        return self.keys is not None

    def _aad(self, header: str) -> bytes:
        return f"{header}inventory {self.context}".encode()

    # -- bytes --

    def seal(self, data: bytes) -> str:
        """The sealed value of canonical inventory bytes, with the write key."""
        assert self.keys is not None
        kid = self.keys.write_id
        header = f"{PREFIX}{kid}:"
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys.cipher(kid).encrypt(nonce, data, self._aad(header))
        return header + binascii.b2a_base64(nonce + sealed, newline=False).decode("ascii")

    def open(self, token: str, source: str) -> bytes:
        """The canonical bytes a sealed value holds; a one-line error when it cannot open."""
        parts = token.split(":")
        if len(parts) != 4 or f"{parts[0]}:{parts[1]}:" != PREFIX:
            raise StoreCorrupt(f"{source}: the sealed inventory is damaged (bad header)")
        kid = parts[2]
        if self.keys is None:
            raise ConfigError(
                f"{source} is encrypted (key id {kid}) and no encryption key is configured; "
                f"{HOW_TO_CONFIGURE}"
            )
        if kid not in self.keys.keys:
            raise ConfigError(
                f"{source} is encrypted with key id {kid}, which is not among the keys of "
                f"{self.keys.ref.describe()} ({', '.join(self.keys.keys)}); add the key it was "
                "written with to that key file (docs/encryption.md)"
            )
        try:
            blob = binascii.a2b_base64(parts[3], strict_mode=True)
        except (ValueError, UnicodeEncodeError):
            blob = b""
        from cryptography.exceptions import InvalidTag

        header = f"{PREFIX}{kid}:"
        try:
            return bytes(
                self.keys.cipher(kid).decrypt(
                    blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._aad(header)
                )
            )
        except (InvalidTag, ValueError) as exc:
            from osa_inventory.inventory import REPAIR

            raise StoreCorrupt(
                f"{source}: the sealed inventory fails authentication (altered, damaged or "
                f"sealed for another store); it is not served; {REPAIR}"
            ) from exc

    # -- inventories --

    def reveal(self, inventory: dict[str, Any], source: str) -> tuple[dict[str, Any], bool]:
        """(the plain inventory, whether it was sealed) for an inventory as stored."""
        token = token_of(inventory, source)
        if token is None:
            return inventory, False
        from osa_inventory.fileio import parse_bytes

        return parse_bytes(self.open(token, source), source), True

    def reveal_bytes(self, data: bytes, source: str) -> tuple[bytes, bool]:
        """(canonical bytes, whether they were sealed) for canonical bytes as stored."""
        if not is_sealed_bytes(data):
            return data, False
        return self.open(data.decode("ascii", "replace").strip(), source), True

    def cover(self, inventory: dict[str, Any]) -> dict[str, Any]:
        """What a backend stores for ``inventory``: its envelope when sealing, else itself."""
        if self.keys is None:
            return inventory
        from osa_inventory.jsonio import dumps_inventory

        return envelope(self.seal(dumps_inventory(inventory).encode("ascii")))

    def cover_bytes(self, data: bytes) -> bytes:
        """What a canonical writer stores for canonical bytes: the sealed line when sealing."""
        if self.keys is None:
            return data
        return self.seal(data).encode("ascii") + b"\n"


def sealing_for(ref: KeyRef | None, context: str) -> Sealing:
    """The :class:`Sealing` of a store whose keys are at ``ref`` (None: none configured)."""
    keys = None if ref is None else Keyring.load(ref)
    if keys is not None:
        keys.cipher(keys.write_id)  # a missing cryptography module is said now, once
    return Sealing(keys, context)
