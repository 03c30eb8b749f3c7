"""QBFT messages: PROPOSAL, PREPARE, COMMIT and ROUND-CHANGE, signed by validators.

Follows the QBFT specification (EEA client spec; Moniz, "The Istanbul BFT Consensus
Algorithm", 2020) as Besu implements it, with a simpler wire format: a message is
``RLP([code, height, round, digest, body])`` signed (secp256k1) over its keccak hash.

- PROPOSAL carries the proposed block (``body``: the RLP block) and, from round 1 on, its
  justification: the ROUND-CHANGE quorum and the PREPARE quorum of the highest prepared
  value (``justification``).
- PREPARE and COMMIT carry the block digest; COMMIT's ``body`` is the commit seal (the
  validator's signature of the block's seal hash), the seal that goes into the header.
- ROUND-CHANGE carries the sender's prepared round and digest (if any) and, as its
  justification, the PREPARE quorum that prepared it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import rlp
from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_keys.exceptions import BadSignature
from eth_utils import keccak


class Code(IntEnum):
    PROPOSAL = 0x12
    PREPARE = 0x13
    COMMIT = 0x14
    ROUND_CHANGE = 0x15


class InvalidMessage(ValueError):
    pass


@dataclass(frozen=True)
class Message:
    code: Code
    height: int
    round: int
    digest: bytes  # the block's hash (PROPOSAL/PREPARE/COMMIT); the prepared digest or b"" (ROUND-CHANGE)
    body: bytes = b""  # PROPOSAL: the block; COMMIT: the commit seal; ROUND-CHANGE: RLP [prepared round, block] or b""
    justification: tuple[SignedMessage, ...] = field(default=())

    def payload(self) -> bytes:
        return rlp.encode(
            [int(self.code), self.height, self.round, self.digest, self.body, [m.encode() for m in self.justification]]
        )


@dataclass(frozen=True)
class SignedMessage:
    message: Message
    signature: bytes
    author: bytes  # recovered 20-byte address

    def encode(self) -> bytes:
        return rlp.encode([self.message.payload(), self.signature])


def sign(message: Message, key: PrivateKey) -> SignedMessage:
    signature = key.sign_msg_hash(keccak(message.payload())).to_bytes()
    return SignedMessage(message, signature, key.public_key.to_canonical_address())


def _message_from(items: list[object], depth: int) -> Message:
    if not isinstance(items, list) or len(items) != 6:
        raise InvalidMessage("a message is a list of 6 items")
    code, height, round_, digest, body, justification = items
    if not all(isinstance(x, bytes) for x in (code, height, round_, digest, body)) or not isinstance(
        justification, list
    ):
        raise InvalidMessage("malformed message fields")
    try:
        kind = Code(int.from_bytes(code, "big"))  # type: ignore[arg-type]
    except ValueError:
        raise InvalidMessage(f"unknown message code {code!r}") from None
    if len(digest) not in (0, 32):  # type: ignore[arg-type]
        raise InvalidMessage("a digest is 32 bytes")
    if depth > 1 and justification:
        raise InvalidMessage("justifications do not nest more than once")
    nested = tuple(decode(raw, depth + 1) for raw in justification)  # type: ignore[arg-type]
    return Message(kind, int.from_bytes(height, "big"), int.from_bytes(round_, "big"), digest, body, nested)  # type: ignore[arg-type]


def decode(raw: bytes, depth: int = 0) -> SignedMessage:
    """Decodes and authenticates a message (and its justification); raises InvalidMessage."""
    try:
        items = rlp.decode(raw)
    except rlp.DecodingError as exc:
        raise InvalidMessage(f"not RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != 2 or not all(isinstance(x, bytes) for x in items):
        raise InvalidMessage("a signed message is [payload, signature]")
    payload, signature = items
    message = _message_from(rlp.decode(payload), depth)
    if message.payload() != payload:
        raise InvalidMessage("non-canonical encoding")
    try:
        author = keys.Signature(signature).recover_public_key_from_msg_hash(keccak(payload)).to_canonical_address()
    except (BadSignature, ValueError):
        raise InvalidMessage("bad signature") from None
    return SignedMessage(message, signature, author)


def quorum(validators: int) -> int:
    """⌈2n/3⌉ (Besu's QBFT quorum): any two quorums share at least one honest validator when n ≥ 3f + 1."""
    return -(-2 * validators // 3)


def faulty_tolerated(validators: int) -> int:
    return (validators - 1) // 3


def proposer(validators: list[bytes], height: int, round_: int) -> bytes:
    """Round-robin: validator (height + round) mod n."""
    return validators[(height + round_) % len(validators)]
