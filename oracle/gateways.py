"""Home gateways sign each batch of readings with Ed25519; unsigned, tampered or replayed batches are refused.

A gateway's public key is registered with the oracle (a JSON file ``{"gateway id":
"<base64 raw public key>"}``); the gateway signs the exact bytes of the batch it sends.
Accepted batches are kept in the inbox under their SHA-256, so the same batch sent again
(a replay, or a retry) is recognised and not counted twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class BatchRefused(Exception):
    """The batch is not accepted; the message says why (never includes key material)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_gateway_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, base64.b64encode(public).decode()


def sign_batch(key: Ed25519PrivateKey, payload: bytes) -> str:
    return base64.b64encode(key.sign(payload)).decode()


def load_gateways(path: Path) -> dict[str, Ed25519PublicKey]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a JSON object of gateway id → base64 public key ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    keys = {}
    for gateway, encoded in document.items():
        try:
            raw = base64.b64decode(str(encoded), validate=True)
            keys[str(gateway)] = Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError):
            raise ValueError(f"{path}: the key of gateway {gateway!r} is not a base64 Ed25519 public key") from None
    return keys


@dataclass(frozen=True)
class Accepted:
    digest: str
    path: Path
    replay: bool


class Inbox:
    """Accepted batches on disk, one file per batch, named by its SHA-256 (written atomically)."""

    def __init__(self, directory: Path, gateways: dict[str, Ed25519PublicKey]) -> None:
        self.directory = directory
        self.gateways = gateways
        directory.mkdir(parents=True, exist_ok=True)

    def verify(self, gateway: str, payload: bytes, signature: str) -> None:
        key = self.gateways.get(gateway)
        if key is None:
            raise BatchRefused("UNKNOWN_GATEWAY", f"gateway {gateway[:40]!r} is not registered")
        try:
            key.verify(base64.b64decode(signature, validate=True), payload)
        except (binascii.Error, ValueError, InvalidSignature):
            raise BatchRefused(
                "BAD_SIGNATURE", "the batch's signature does not verify (unsigned or tampered)"
            ) from None

    def accept(self, gateway: str, payload: bytes, signature: str, suffix: str = ".jsonl") -> Accepted:
        self.verify(gateway, payload, signature)
        digest = hashlib.sha256(payload).hexdigest()
        path = self.directory / f"{digest}{suffix}"
        if path.exists():
            return Accepted(digest, path, replay=True)
        temporary = path.with_name(path.name + ".part")
        with temporary.open("wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        meta = {"gateway": gateway, "received_at": int(time.time()), "signature": signature}
        path.with_name(path.name + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
        temporary.replace(path)
        return Accepted(digest, path, replay=False)

    def batches(self) -> list[Path]:
        return sorted(
            p for p in self.directory.iterdir() if p.suffix in (".jsonl", ".csv") and not p.name.endswith(".part")
        )
