"""What every chain-facing CLI command needs: the node's URL, the signing key, the deployment.

Keys: an encrypted keystore (``--keystore``, unlocked by ``--password-file``, the
``TAKASAGO_KEYSTORE_PASSWORD`` environment variable or a prompt), or, on a
development chain only, a named key from its ``dev-keys.json``. Keys are never
printed or logged.

The node: a trusted service (the oracle's ``settle``, ``takasago up``) proves itself with the
node's service token (``ledger_client.node_access``) when ``TAKASAGO_NODE_SERVICE_TOKEN_FILE``
or ``--node-token-file`` names it; an officer's command without either connects as any
other client does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

RpcUrl = Annotated[str, typer.Option("--rpc-url", envvar="TAKASAGO_RPC_URL", help="Node JSON-RPC URL.")]
DeploymentsDir = Annotated[
    Path,
    typer.Option(
        "--deployments", envvar="TAKASAGO_DEPLOYMENTS", help="Directory of deployment files (one per chain id)."
    ),
]
Keystore = Annotated[
    Path | None, typer.Option("--keystore", envvar="TAKASAGO_KEYSTORE", help="Encrypted keystore of the signer.")
]
PasswordFile = Annotated[Path | None, typer.Option("--password-file", help="File holding the keystore passphrase.")]
DevKeys = Annotated[
    Path | None,
    typer.Option("--dev-keys", envvar="TAKASAGO_DEV_KEYS", help="Development chains only: dev-keys.json to sign with."),
]

NodeTokenFile = Annotated[
    Path | None,
    typer.Option(
        "--node-token-file",
        envvar="TAKASAGO_NODE_SERVICE_TOKEN_FILE",
        help="File (0600) holding the node's service token: this service's requests get the node's trusted lane.",
    ),
]

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_DEPLOYMENTS = Path(".takasago/deployments")


class ConnectionError_(Exception):
    """The node cannot be reached; the message says why."""


class SignerError(Exception):
    """The signing key cannot be loaded (no key given, wrong passphrase, bad file)."""


def connect(url: str, token_file: Path | None = None) -> Web3:
    """A Web3 for the node at ``url``; with the service token header when one is configured.

    ``token_file``, else ``TAKASAGO_NODE_SERVICE_TOKEN_FILE``. A bad token file is a
    :class:`ConnectionError_` naming the file (every command already reports that one cleanly).
    """
    from ledger_client.node_access import NodeAccessError, web3_request_kwargs

    try:
        request_kwargs = web3_request_kwargs(60, token_file)
    except NodeAccessError as exc:
        raise ConnectionError_(str(exc)) from None
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs=request_kwargs))
    # PoA chains carry seals in extraData (> 32 bytes), as Besu QBFT and Clique do.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        w3.eth.chain_id  # noqa: B018 - a cheap call that proves the node answers
    except Exception as exc:  # noqa: BLE001 - any transport failure means "cannot reach"
        raise ConnectionError_(f"cannot reach the node at {url}: {exc}") from None
    return w3


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
