"""The officer's signing key: an encrypted keystore, or a development chain's named key.

Keys: an encrypted keystore (``--keystore``, unlocked by ``--password-file``, the
``TAKASAGO_KEYSTORE_PASSWORD`` environment variable or a prompt), or, on a development
chain only, a named key from its ``dev-keys.json``. Keys are never printed or logged.
Only commands that write ask for one; listing and reporting commands never do.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount


class SignerError(Exception):
    """The signing key cannot be loaded (no key given, wrong passphrase, bad file)."""


def load_signer(keystore: Path | None, password_file: Path | None, dev_keys: Path | None, role: str) -> LocalAccount:
    """The signing account: from the keystore, or key ``role`` of a dev chain's dev-keys.json."""
    from node.keys import KeystoreError, read_keystore, resolve_passphrase

    if keystore is not None:
        try:
            passphrase = resolve_passphrase(password_file, "TAKASAGO_KEYSTORE_PASSWORD", f"Passphrase for {keystore}: ")
            return Account.from_key(read_keystore(keystore, passphrase).to_bytes())
        except KeystoreError as exc:
            raise SignerError(str(exc)) from None
    if dev_keys is not None:
        try:
            document = json.loads(dev_keys.read_text(encoding="utf-8"))
            return Account.from_key(document[role]["privateKey"])
        except FileNotFoundError:
            raise SignerError(f"{dev_keys} not found") from None
        except (ValueError, KeyError, TypeError):
            raise SignerError(f"{dev_keys}: no {role!r} key in a dev-keys.json layout") from None
    raise SignerError("no signing key: pass --keystore (or --dev-keys on a development chain)")
