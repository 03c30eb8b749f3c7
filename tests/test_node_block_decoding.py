"""``decode_block`` with the pool's transactions: the same block as a full decode, and the same refusals."""

from __future__ import annotations

import pytest
import rlp
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_account import Account
from eth_utils import ValidationError

from bench.execution_worker import admitted, signed_zero_fee
from node.execution import TakasagoVM
from node.ledger import decode_block
from node.txpool import PendingTransaction


def _block(pending: list[PendingTransaction]) -> bytes:
    header = PragueBlockHeader(
        difficulty=0, block_number=5, gas_limit=100_000_000, timestamp=1, coinbase=b"\0" * 20,
        parent_hash=b"\1" * 32, uncles_hash=b"\2" * 32, state_root=b"\3" * 32, transaction_root=b"\4" * 32,
        receipt_root=b"\5" * 32, bloom=0, gas_used=0, extra_data=b"", mix_hash=b"\0" * 32, nonce=b"\0" * 8,
        base_fee_per_gas=0, withdrawals_root=b"\6" * 32, blob_gas_used=0, excess_blob_gas=0,
        parent_beacon_block_root=b"\7" * 32, requests_hash=b"\x08" * 32,
    )  # fmt: skip
    block = TakasagoVM.get_block_class()(header, transactions=[p.tx for p in pending], uncles=[], withdrawals=[])
    return rlp.encode(block)


@pytest.fixture(scope="module")
def pending() -> list[PendingTransaction]:
    key = Account.create().key.hex()
    return [
        admitted(signed_zero_fee(key, n, "0x" + "11" * 20, b"\xa9\x05\x9c\xbb" + bytes(64), gas=100_000))
        for n in range(20)
    ]


def test_pooled_transactions_are_reused_and_the_block_is_the_same(pending: list[PendingTransaction]) -> None:
    raw = _block(pending)
    full = decode_block(raw)
    pool = {p.hash: p for p in pending[::2]}  # half of them gossiped here already
    asked: list[bytes] = []

    def known(tx_hash: bytes) -> PendingTransaction | None:
        asked.append(tx_hash)
        return pool.get(tx_hash)  # type: ignore[call-overload]

    decoded = decode_block(raw, known)
    assert decoded == full and decoded.hash == full.hash and rlp.encode(decoded) == raw
    assert asked == [p.hash for p in pending]
    assert all(decoded.transactions[i] is pending[i].tx for i in range(0, 20, 2))  # the pool's objects
    assert all(decoded.transactions[i] is not pending[i].tx for i in range(1, 20, 2))  # decoded here
    assert decode_block(raw, {}.get) == full


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],  # truncated
        lambda raw: raw + b"\x00",  # trailing byte
        lambda raw: rlp.encode(rlp.decode(raw)[:3]),  # no withdrawals
        lambda raw: rlp.encode([rlp.decode(raw)[0], b"\x01", [], []]),  # transactions not a list
        lambda raw: rlp.encode([rlp.decode(raw)[0], [b"\x02\xc0"], [], []]),  # a transaction that is not one
        lambda raw: rlp.encode(b"block"),  # not a list
    ],
)
def test_a_malformed_block_is_refused_the_same_with_or_without_the_pool(
    pending: list[PendingTransaction], mangle: object
) -> None:
    bad = mangle(_block(pending))  # type: ignore[operator]
    pool = {p.hash: p for p in pending}
    for known in (None, pool.get):
        with pytest.raises(ValidationError, match="invalid block encoding"):
            decode_block(bad, known)  # type: ignore[arg-type]
