"""Sealing secrets the server must be able to read back (AES-GCM with the server's key).

Auth tokens are stored as digests for authentication, but signing status callbacks with
X-Twilio-Signature needs the token itself. It is kept sealed with a key that lives
outside the database (`OPENCOMMS_SECRET_KEY`, or a key file made on first start), so a
copy of the database alone does not reveal any token.

The same key is the root of the server's other keys (`derive`), e.g. the one that signs
page tokens, so an operator keeps one secret, and no derived key reveals another.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Sealer", "WrongServerKey", "load_or_create_key", "server_sealer"]

_NONCE_BYTES = 12


class WrongServerKey(Exception):
    """The server's key does not open what is sealed in its database: another key sealed
    it (every process on one database must have the same key). A server that started
    anyway could not sign callbacks nor deliver a sink it took over, so it stops."""


def load_or_create_key(path: Path) -> bytes:
    """The 256-bit key in `path`, made (readable by its owner only) when missing."""
    if not path.exists():
        _create_key_file(path)
    return base64.urlsafe_b64decode(path.read_text().strip())


def _create_key_file(path: Path) -> None:
    """Put a new key at `path` unless another process does first. The processes of
    `serve --workers N` start together: each writes a whole key file of its own, then
    links it into place, which fails if `path` exists. The first link wins, and no
    process ever reads a key file still being written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, own = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode())
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key is the one
            os.link(own, path)
    finally:
        os.unlink(own)


def server_sealer(secret_key: str, secret_key_file: str) -> Sealer:
    """The server's sealer: its key given inline (base64), else the key file's."""
    return (
        Sealer.from_text(secret_key)
        if secret_key
        else Sealer(load_or_create_key(Path(secret_key_file)))
    )


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._aead = AESGCM(key)

    @classmethod
    def from_text(cls, text: str) -> Sealer:
        return cls(base64.urlsafe_b64decode(text))

    def seal(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed)
        return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()

    def opens(self, sealed: str) -> bool:
        """Whether `sealed` was sealed with this key."""
        try:
            self.unseal(sealed)
        except InvalidTag:
            return False
        return True

    def derive(self, purpose: str) -> bytes:
        """A 256-bit key for one purpose (HKDF-SHA256 of the server's key)."""
        return HKDF(SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._key)
