"""Commit certificates: the quorum of commit seals that makes a block final.

A decided block is stored with ``RLP([round, [seal, ...]])``: the round it was decided
in and the COMMIT messages' seals, each a validator's signature of the block hash.
Anyone holding the validator set at the parent can check finality offline: at least
``⌈2n/3⌉`` distinct authorised validators signed this exact block.

The seals live next to the block rather than inside its header (where Besu's QBFT puts
them) because this chain hashes the full header, as Ethereum does: seals inside the
header would give each validator's copy of the block a different hash depending on which
quorum it happened to collect. Besu avoids that by hashing headers without their seals;
we keep standard hashing and a separate certificate (docs/consensus.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth_utils import ValidationError

from node.qbft.instance import seal_author
from node.qbft.messages import quorum


def encode_certificate(round_: int, seals: Sequence[bytes]) -> bytes:
    return rlp.encode([round_, list(seals)])


def decode_certificate(raw: bytes) -> tuple[int, tuple[bytes, ...]]:
    try:
        items = rlp.decode(raw)
    except rlp.DecodingError as exc:
        raise ValidationError(f"commit certificate is not RLP: {exc}") from None
    if (
        not isinstance(items, list)
        or len(items) != 2
        or not isinstance(items[0], bytes)
        or not isinstance(items[1], list)
        or not all(isinstance(s, bytes) and len(s) == 65 for s in items[1])
    ):
        raise ValidationError("commit certificate must be [round, [65-byte seal, ...]]")
    return int.from_bytes(items[0], "big"), tuple(items[1])


def certificate_signers(block_hash: bytes, raw: bytes, validators: Sequence[bytes]) -> tuple[bytes, ...]:
    """The validators whose seals make ``block_hash`` final; ``ValidationError`` if they are not a quorum."""
    return _quorum_of(block_hash, decode_certificate(raw)[1], validators)


def _quorum_of(block_hash: bytes, seals: Sequence[bytes], validators: Sequence[bytes]) -> tuple[bytes, ...]:
    signers: list[bytes] = []
    for seal in seals:
        author = seal_author(block_hash, seal)
        if author is None:
            raise ValidationError("commit certificate holds an invalid signature")
        if author not in validators:
            raise ValidationError(f"commit seal by 0x{author.hex()}, which is not a validator at the parent block")
        if author in signers:
            raise ValidationError(f"two commit seals by 0x{author.hex()}")
        signers.append(author)
    needed = quorum(len(validators))
    if len(signers) < needed:
        raise ValidationError(f"commit certificate has {len(signers)} seals; {needed} of {len(validators)} are needed")
    return tuple(signers)


def certificate_summary(raw: bytes, block_hash: bytes, validators: Sequence[bytes]) -> dict[str, Any]:
    """The round a block was decided in, its seals and who made them (checked)."""
    round_, seals = decode_certificate(raw)
    return {"round": round_, "signers": _quorum_of(block_hash, seals, validators), "seals": seals}
