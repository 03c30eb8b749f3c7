"""Envelope encryption: every secret under its own data key, data keys under the KEK.

Each sealed value (a private key, a resident's name) gets a fresh 256-bit data key
(DEK); the value is encrypted with AES-256-GCM under the DEK, and the DEK is wrapped
(AES-256-GCM again) under the key-encryption key (KEK), which lives outside the
database (a file or an environment variable). Rotating the KEK re-wraps the DEKs only:
no value is decrypted to disk and the large ciphertexts do not change.

Both layers authenticate a *context* (for example ``b"user:42:private-key"``), so a
blob copied to another row or field does not open. The format is versioned:

    b"TKE1" | kek id (8) | wrap nonce (12) | wrapped DEK (32 + 16 tag) | nonce (12) | ciphertext + tag (16)
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TKE1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEK_ID_BYTES = 8
WRAPPED_DEK_BYTES = KEY_BYTES + TAG_BYTES
HEADER_BYTES = len(MAGIC) + KEK_ID_BYTES + NONCE_BYTES + WRAPPED_DEK_BYTES + NONCE_BYTES


class EnvelopeError(Exception):
    """A sealed value cannot be opened (unknown KEK, tampering, wrong context); never includes secrets."""


@dataclass(frozen=True)
class KeyEncryptionKey:
    """A 256-bit KEK and its id (the first 8 bytes of its SHA-256, safe to store and log)."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise EnvelopeError(f"a key-encryption key must be {KEY_BYTES} bytes, not {len(self.key)}")

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(b"takasago-kek-id|" + self.key).digest()[:KEK_ID_BYTES]

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str) -> KeyEncryptionKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise EnvelopeError("the key-encryption key is not valid base64") from None
        return cls(raw)

    @classmethod
    def from_file(cls, path: Path) -> KeyEncryptionKey:
        """Reads a base64 KEK from ``path``, which must not be readable by group or others."""
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise EnvelopeError(f"cannot read the key-encryption key file {path}: {exc.strerror}") from None
        if mode & 0o077:
            raise EnvelopeError(f"{path} is readable by other users (mode {mode & 0o777:o}); chmod 600 it")
        return cls.from_base64(text)

    @classmethod
    def from_env(cls, variable: str = "TAKASAGO_WALLET_KEK") -> KeyEncryptionKey:
        value = os.environ.get(variable)
        if not value:
            raise EnvelopeError(f"{variable} is not set")
        return cls.from_base64(value)

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")


def _wrap_context(context: bytes) -> bytes:
    return b"takasago-dek|" + context


def seal(kek: KeyEncryptionKey, plaintext: bytes, context: bytes) -> bytes:
    """Encrypts ``plaintext`` under a fresh data key wrapped by ``kek``, bound to ``context``."""
    dek = secrets.token_bytes(KEY_BYTES)
    wrap_nonce, nonce = secrets.token_bytes(NONCE_BYTES), secrets.token_bytes(NONCE_BYTES)
    wrapped = AESGCM(kek.key).encrypt(wrap_nonce, dek, _wrap_context(context))
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext, context)
    return MAGIC + kek.key_id + wrap_nonce + wrapped + nonce + ciphertext


def _parse(blob: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    if len(blob) < HEADER_BYTES + TAG_BYTES or not blob.startswith(MAGIC):
        raise EnvelopeError("not a sealed value (wrong format or truncated)")
    at = len(MAGIC)
    kek_id = blob[at : at + KEK_ID_BYTES]
    at += KEK_ID_BYTES
    wrap_nonce = blob[at : at + NONCE_BYTES]
    at += NONCE_BYTES
    wrapped = blob[at : at + WRAPPED_DEK_BYTES]
    at += WRAPPED_DEK_BYTES
    nonce = blob[at : at + NONCE_BYTES]
    at += NONCE_BYTES
    return kek_id, wrap_nonce, wrapped, nonce, blob[at:]


def _kek_for(keks: Iterable[KeyEncryptionKey], kek_id: bytes) -> KeyEncryptionKey:
    for kek in keks:
        if kek.key_id == kek_id:
            return kek
    raise EnvelopeError(f"sealed under an unknown key-encryption key (id {kek_id.hex()})")


def _unwrap(kek: KeyEncryptionKey, wrap_nonce: bytes, wrapped: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(kek.key).decrypt(wrap_nonce, wrapped, _wrap_context(context))
    except InvalidTag:
        raise EnvelopeError("the data key does not open: tampered, or sealed for another context") from None


def open_sealed(keks: Iterable[KeyEncryptionKey], blob: bytes, context: bytes) -> bytes:
    """The plaintext of ``blob``; ``keks`` may hold the current and previous KEKs during a rotation."""
    kek_id, wrap_nonce, wrapped, nonce, ciphertext = _parse(blob)
    dek = _unwrap(_kek_for(keks, kek_id), wrap_nonce, wrapped, context)
    try:
        return AESGCM(dek).decrypt(nonce, ciphertext, context)
    except InvalidTag:
        raise EnvelopeError("the sealed value does not open: tampered, or sealed for another context") from None


def rewrap(old: Iterable[KeyEncryptionKey], new: KeyEncryptionKey, blob: bytes, context: bytes) -> bytes:
    """The same value with its data key wrapped by ``new`` (KEK rotation); the ciphertext is unchanged."""
    kek_id, wrap_nonce, wrapped, nonce, ciphertext = _parse(blob)
    if kek_id == new.key_id:
        return blob
    dek = _unwrap(_kek_for(old, kek_id), wrap_nonce, wrapped, context)
    fresh_nonce = secrets.token_bytes(NONCE_BYTES)
    rewrapped = AESGCM(new.key).encrypt(fresh_nonce, dek, _wrap_context(context))
    return MAGIC + new.key_id + fresh_nonce + rewrapped + nonce + ciphertext


def kek_id_of(blob: bytes) -> bytes:
    """Which KEK a sealed value is wrapped under (to find values still to rotate)."""
    return _parse(blob)[0]
