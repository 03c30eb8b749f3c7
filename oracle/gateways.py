"""Home gateways sign each batch of readings with Ed25519; unsigned, tampered or replayed batches are refused.

A gateway is registered with the oracle with its public key and the meters it serves (a
JSON file ``{"gateway id": {"key": "<base64 raw public key>", "meters": ["M-1", …]}}``);
the gateway signs the exact bytes of the batch it sends. A gateway may only speak for its
own meters: a batch with a reading for any other meter is refused whole (issue 15,
finding 12 — a gateway that could write a neighbour's meter could get that household
excluded with a conflicting duplicate). Whole, not row by row, because a batch is signed
and kept as one piece of evidence: storing it would keep the foreign rows for settlement.
An entry in the older form ``{"gateway id": "<base64 key>"}`` has no meters and so may
submit nothing until its meters are registered.

Accepted batches are kept in the evidence store (:mod:`oracle.evidence`) under their
SHA-256, so the same batch sent again (a replay, or a retry) is recognised and not
counted twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from oracle.evidence import EvidenceStore, Stored


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


@dataclass(frozen=True)
class Gateway:
    """A registered gateway: the key its batches are signed with and the meters it may report."""

    key: Ed25519PublicKey
    meters: frozenset[str]


def gateway_entry(public_key: str, meters: Iterable[str]) -> dict[str, object]:
    """The registry's JSON entry for one gateway (what ``takasago oracle gateway-key`` writes)."""
    return {"key": public_key, "meters": sorted({m.strip() for m in meters if m.strip()})}


def load_gateways(path: Path) -> dict[str, Gateway]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a JSON object of gateway id → key and meters ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    gateways = {}
    for gateway, entry in document.items():
        encoded, meters = (entry, []) if isinstance(entry, str) else (dict(entry).get("key"), dict(entry).get("meters"))
        if not isinstance(meters, list) or not all(isinstance(m, str) and 1 <= len(m) <= 64 for m in meters):
            raise ValueError(
                f"{path}: the meters of gateway {gateway!r} must be a list of meter ids (1 to 64 characters)"
            )
        try:
            raw = base64.b64decode(str(encoded), validate=True)
            gateways[str(gateway)] = Gateway(Ed25519PublicKey.from_public_bytes(raw), frozenset(meters))
        except (binascii.Error, ValueError):
            raise ValueError(f"{path}: the key of gateway {gateway!r} is not a base64 Ed25519 public key") from None
    return gateways


class Inbox:
    """The ingest's checks (gateway, signature, meter binding) in front of the evidence store."""

    def __init__(self, store: EvidenceStore, gateways: dict[str, Gateway]) -> None:
        self.store = store
        self.gateways = gateways

    def gateway(self, gateway: str) -> Gateway:
        """The registered gateway, checked from the header alone (before any of the body is read)."""
        found = self.gateways.get(gateway)
        if found is None:
            raise BatchRefused(
                "UNKNOWN_GATEWAY",
                f"gateway {gateway[:40]!r} is not registered / ゲートウェイ {gateway[:40]!r} は登録されていません",
            )
        return found

    def verify(self, gateway: str, payload: bytes, signature: str) -> None:
        key = self.gateway(gateway).key
        try:
            key.verify(base64.b64decode(signature, validate=True), payload)
        except (binascii.Error, ValueError, InvalidSignature):
            raise BatchRefused(
                "BAD_SIGNATURE",
                "the batch's signature does not verify (unsigned or tampered) / バッチの署名を検証できません",
            ) from None

    def check_meters(self, gateway: str, meter_ids: Iterable[str]) -> None:
        """Refuses the batch if it reports any meter not bound to ``gateway`` (finding 12)."""
        bound = self.gateway(gateway).meters
        foreign = sorted(set(meter_ids) - bound)
        if foreign:
            shown = ", ".join(m[:64] for m in foreign[:10]) + (f" (+{len(foreign) - 10})" if len(foreign) > 10 else "")
            raise BatchRefused(
                "METER_NOT_BOUND",
                f"gateway {gateway[:40]!r} may not report meter(s) {shown}: the whole batch is refused / "
                f"ゲートウェイ {gateway[:40]!r} に登録されていない計器 {shown} の値が含まれるため、"
                "バッチ全体を受け付けません",
            )

    def accept(
        self,
        gateway: str,
        payload: bytes,
        signature: str,
        meter_ids: Iterable[str],
        times: tuple[int, int] | None,
        readings: int,
        suffix: str = ".jsonl",
    ) -> Stored:
        """Stores a verified batch whose readings (``meter_ids``, from parsing it) are all the gateway's own.

        ``times`` is the first and last half hour it reports (None if no row is readable), by
        which settlement finds a month's batches; ``readings`` how many rows were readable.
        """
        self.verify(gateway, payload, signature)
        self.check_meters(gateway, meter_ids)
        digest = hashlib.sha256(payload).hexdigest()
        return self.store.add_batch(digest + suffix, payload, digest, times, readings, gateway, signature)

    def batches(self) -> int:
        return self.store.batch_count()
