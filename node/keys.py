"""Validator and admin keys at rest: Web3 Secret Storage (scrypt + AES-128-CTR).

Private keys are never printed or logged. A passphrase comes from a file, an
environment variable (for automation) or an interactive prompt, in that order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_keys.datatypes import PrivateKey


class KeystoreError(ValueError):
    pass


def write_keystore(path: Path, private_key: bytes, passphrase: str, *, light: bool = False) -> str:
    """Encrypt ``private_key`` to ``path`` (mode 0600); return its address.

    ``light`` uses a cheaper scrypt cost for development chains only.
    """
    kdf_kwargs: dict[str, Any] = {"iterations": 2**12} if light else {}
    document = Account.encrypt(private_key, passphrase, **kdf_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    return str(Account.from_key(private_key).address)


def read_keystore(path: Path, passphrase: str) -> PrivateKey:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KeystoreError(f"keystore {path} is not valid JSON") from None
    try:
        secret = Account.decrypt(document, passphrase)
    except ValueError:
        raise KeystoreError(f"cannot unlock {path}: wrong passphrase or corrupted keystore") from None
    return PrivateKey(bytes(secret))


def resolve_passphrase(password_file: Path | None, env_var: str, prompt: str | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") from None
    value = os.environ.get(env_var)
    if value is not None:
        return value
    if prompt is None:
        raise KeystoreError(f"no passphrase: pass --password-file or set {env_var}")
    import getpass

    return getpass.getpass(prompt)
