"""Block seals: who produced a block and who committed to it, kept in ``extra_data``.

The layout follows Hyperledger Besu's QBFT extraData so that a quorum-based BFT
protocol fits later without changing how existing blocks are read::

    extra_data = RLP([vanity: 32 bytes, validators: [address, ...], vote: [],
                      round: uint, seals: [65-byte signature, ...]])

``seals`` are commit seals: secp256k1 signatures (r || s || v, v in {0, 1}) over the
*seal hash*, the keccak of the RLP header whose extra_data carries an empty seal list
(EIP-225's idea: the hash a signer commits to cannot include its own signature). In
proof-of-authority mode (one proposer, this issue) a block carries exactly one seal,
the proposer's, and the proposer is also the header's coinbase. A QBFT block carries
a quorum of seals over the same hash; readers already accept a list.

The validator list in every header lets anyone see the set that was authorised at
that height; the node checks it against the on-chain registry at the parent block.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth.abc import BlockHeaderAPI
from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_keys.exceptions import BadSignature
from eth_typing import Address
from eth_utils import ValidationError

VANITY_BYTES = 32
SEAL_BYTES = 65
# "Istanbul BFT" digest that IBFT 2.0 / QBFT put in mixHash; it identifies BFT-style
# blocks and is what ``block.prevrandao`` returns (there is no randomness here).
BFT_MIX_HASH = bytes.fromhex("63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365")


@dataclass(frozen=True)
class SealData:
    vanity: bytes
    validators: tuple[Address, ...]
    round: int
    seals: tuple[bytes, ...]

    def encode(self) -> bytes:
        return rlp.encode([self.vanity, list(self.validators), [], self.round, list(self.seals)])

    def without_seals(self) -> SealData:
        return SealData(self.vanity, self.validators, self.round, ())


def decode_extra_data(extra_data: bytes) -> SealData:
    """Parse a header's extra_data; raises ``ValidationError`` on any malformation."""
    try:
        items = rlp.decode(extra_data)
    except rlp.DecodingError as exc:
        raise ValidationError(f"extraData is not valid RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != 5:
        raise ValidationError("extraData must be an RLP list of 5 items")
    vanity, validators, _vote, round_bytes, seals = items
    if not isinstance(vanity, bytes) or len(vanity) != VANITY_BYTES:
        raise ValidationError("extraData vanity must be 32 bytes")
    if not isinstance(validators, list) or not all(isinstance(v, bytes) and len(v) == 20 for v in validators):
        raise ValidationError("extraData validators must be a list of 20-byte addresses")
    if not isinstance(seals, list) or not all(isinstance(s, bytes) and len(s) == SEAL_BYTES for s in seals):
        raise ValidationError("extraData seals must be a list of 65-byte signatures")
    if not isinstance(round_bytes, bytes):
        raise ValidationError("extraData round must be an integer")
    return SealData(vanity, tuple(Address(v) for v in validators), int.from_bytes(round_bytes, "big"), tuple(seals))


def unsealed_extra_data(validators: tuple[Address, ...], vanity: bytes = b"", round_: int = 0) -> bytes:
    return SealData(vanity.ljust(VANITY_BYTES, b"\0")[:VANITY_BYTES], validators, round_, ()).encode()


def seal_hash(header: BlockHeaderAPI) -> bytes:
    """The hash validators sign: the header with an empty commit-seal list."""
    data = decode_extra_data(header.extra_data).without_seals()
    return header.copy(extra_data=data.encode()).hash


def sign_seal(header: BlockHeaderAPI, private_key: PrivateKey) -> BlockHeaderAPI:
    """Add ``private_key``'s commit seal to ``header``."""
    data = decode_extra_data(header.extra_data)
    signature = private_key.sign_msg_hash(seal_hash(header)).to_bytes()
    sealed = SealData(data.vanity, data.validators, data.round, data.seals + (signature,))
    return header.copy(extra_data=sealed.encode())


def recover_sealers(header: BlockHeaderAPI) -> tuple[Address, ...]:
    """The addresses whose commit seals the header carries, in order."""
    data = decode_extra_data(header.extra_data)
    digest = seal_hash(header)
    sealers = []
    for raw in data.seals:
        try:
            sealers.append(Address(keys.Signature(raw).recover_public_key_from_msg_hash(digest).to_canonical_address()))
        except (BadSignature, ValueError) as exc:
            raise ValidationError(f"invalid seal signature: {exc}") from None
    return tuple(sealers)


def verify_seal(header: BlockHeaderAPI, authorised: tuple[Address, ...]) -> Address:
    """Check that a block is sealed by an authorised validator; return the proposer.

    Rules (proof-of-authority mode): the header's validator list equals the set
    authorised at the parent block; at least one seal; every seal by a distinct
    authorised validator; the first seal is the proposer's and equals the coinbase.
    """
    data = decode_extra_data(header.extra_data)
    if tuple(data.validators) != tuple(authorised):
        raise ValidationError("header's validator list differs from the authorised validator set")
    sealers = recover_sealers(header)
    if not sealers:
        raise ValidationError("block carries no seal")
    if len(set(sealers)) != len(sealers):
        raise ValidationError("block carries two seals from the same validator")
    for sealer in sealers:
        if sealer not in authorised:
            raise ValidationError(f"block sealed by 0x{sealer.hex()}, which is not an authorised validator")
    if sealers[0] != header.coinbase:
        raise ValidationError("the proposer's seal does not match the block's coinbase")
    return sealers[0]
