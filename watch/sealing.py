"""Tag secrets sealed at rest (issue 19): AES-256-GCM under a key-encryption key kept apart from the database.

The KEK is a 32-byte file (mode 0600) outside the database — by default in the service's data
directory, in production wherever ``TAKASAGO_WATCH_KEK_FILE`` points (another disk, a secrets
mount). Each value is sealed with a fresh nonce and bound to its row (the ward's id is the
associated data), so a sealed secret copied onto another ward's row does not open. A copied
database without the KEK opens nothing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class Sealer:
    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)

    @classmethod
    def from_file(cls, path: Path, create: bool = False) -> Sealer:
        """The KEK in ``path``; made (0600) when ``create`` and missing. Refused if others can read it."""
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no key-encryption key at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        if path.stat().st_mode & 0o077:
            raise PermissionError(f"{path} is readable by others: chmod 600 it")
        return cls(path.read_bytes())

    def seal(self, value: bytes, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value, bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to.encode())
        except InvalidTag:
            raise ValueError("a sealed value does not open with this key for this row") from None
