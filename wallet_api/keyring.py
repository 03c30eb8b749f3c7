"""The service's secrets: the key-encryption key and the access-token signing secret.

Both come from the environment or from files outside the database. For the embedded
default (``takasago up``) ``takasago wallet init`` generates them as 0600 files in the data
directory (``wallet serve`` never does); a production deployment supplies them (``TAKASAGO_WALLET_KEK``, a KEK file
on another volume or from a secrets manager) so a copied database opens nothing.
Older KEKs (``TAKASAGO_WALLET_OLD_KEKS``, comma-separated base64) still open values
until ``takasago wallet rotate-kek`` has re-wrapped them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from wallet_api.crypto.envelope import EnvelopeError, KeyEncryptionKey, open_sealed, seal
from wallet_api.settings import WalletSettings


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")


@dataclass(frozen=True)
class Keyring:
    kek: KeyEncryptionKey = field(repr=False)
    old_keks: tuple[KeyEncryptionKey, ...] = field(default=(), repr=False)
    token_secret: bytes = field(default=b"", repr=False)

    @property
    def all_keks(self) -> tuple[KeyEncryptionKey, ...]:
        return (self.kek, *self.old_keks)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        return seal(self.kek, plaintext, context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        return open_sealed(self.all_keks, blob, context)

    def seal_private_key(self, owner: str, account: LocalAccount) -> bytes:
        return self.seal(bytes(account.key), b"private-key:" + owner.lower().encode())

    def open_private_key(self, owner: str, blob: bytes) -> LocalAccount:
        account: LocalAccount = Account.from_key(self.open(blob, b"private-key:" + owner.lower().encode()))
        if account.address.lower() != owner.lower():
            raise EnvelopeError("a sealed key does not belong to its address")
        return account


def load_keyring(settings: WalletSettings, create: bool = False) -> Keyring:
    """The KEK from ``TAKASAGO_WALLET_KEK`` or the KEK file, and the token secret.

    Only ``create`` (``takasago wallet init``, which ``takasago up`` runs first) writes new
    ones. ``wallet serve`` never does: a KEK missing because the service was started from
    another directory or with another setting would otherwise be silently replaced, and
    every key sealed under the old one would stop opening (issue 15, finding 13).
    """
    if os.environ.get("TAKASAGO_WALLET_KEK"):
        kek = KeyEncryptionKey.from_env()
    else:
        path = settings.kek_path
        if create and not path.exists():
            _write_private(path, KeyEncryptionKey.generate().to_base64())
        if not path.exists():
            raise EnvelopeError(
                f"鍵暗号化鍵 (KEK) {path} がありません。初回は `takasago wallet init` で作成し、既存のデータには"
                "元の KEK を TAKASAGO_WALLET_KEK_FILE で指定してください。 / "
                f"No key-encryption key at {path}: create one with `takasago wallet init` on first setup, "
                "or point TAKASAGO_WALLET_KEK_FILE (or TAKASAGO_WALLET_KEK) at the existing one. "
                "The service never creates one by itself."
            )
        kek = KeyEncryptionKey.from_file(path)
    old = tuple(
        KeyEncryptionKey.from_base64(item) for item in os.environ.get("TAKASAGO_WALLET_OLD_KEKS", "").split(",") if item
    )
    secret_text = os.environ.get("TAKASAGO_WALLET_TOKEN_SECRET")
    if not secret_text:
        path = settings.token_secret_path
        if create and not path.exists():
            _write_private(path, secrets.token_urlsafe(48))
        try:
            if path.stat().st_mode & 0o077:
                raise EnvelopeError(f"{path} is readable by other users; chmod 600 it")
            secret_text = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise EnvelopeError(f"cannot read the token secret {path}: {exc.strerror}") from None
    if len(secret_text) < 32:
        raise EnvelopeError("the token secret must be at least 32 characters")
    return Keyring(kek, old, secret_text.encode())
