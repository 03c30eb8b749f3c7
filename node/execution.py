"""Execution rules of the Takasago chain: py-evm's Prague VM with a zero base fee.

Differences from Ethereum mainnet's Prague, each deliberate:

* **Free gas** (as in Besu's zero-base-fee networks): ``base_fee_per_gas`` is 0 in
  every header whatever the load, so custodial accounts never need ether. Gas limits
  still bound execution.
* **Same-second blocks**: a block's timestamp may equal its parent's (it must not be
  earlier). Instant sealing produces many blocks a second; forcing ``parent + 1``
  would make ``block.timestamp`` run ahead of the wall clock, and the point
  contracts' expiry depends on it. (Hardhat's ``allowBlocksWithSameTimestamp``.)
* **Large extraData**: the seal (validators, round, commit seals; see ``seal.py``)
  lives in ``extra_data``, so its 32-byte bound is raised.
* **EIP-7623 floor at admission**: py-evm 0.12 charges the calldata floor after
  execution but does not refuse a transaction whose gas limit is below it (which
  then "uses" more gas than its limit); geth refuses such transactions, and so do we.
* **EIP-2 for every type**: py-evm bounds ``s`` only for legacy transactions; typed
  transactions with a high (malleable) ``s`` are refused here too, as geth does.
* **No deposit contract**: EIP-6110 deposit requests come from the mainnet deposit
  contract, which does not exist here; the deposit request list is always empty.

Faster equivalents of some py-evm methods (``evm_speedups.py``) are mixed into the
classes below; they change no result, and ``evm_patches.py`` lists and guards them.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.constants import POST_MERGE_DIFFICULTY, POST_MERGE_NONCE, POST_MERGE_OMMERS_HASH, SECPK1_N
from eth.validation import validate_gas_limit, validate_length_lte
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.constants import DEPOSIT_REQUEST_TYPE, STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth.vm.forks.prague.headers import create_prague_header_from_parent
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth_utils import ValidationError

from node import evm_patches
from node.evm_speedups import (
    AnalysedJumpsMixin,
    LeanInterpreterMixin,
    OrderedTrieRootsMixin,
    QuietMessageBuilderMixin,
)

MAX_EXTRA_DATA_BYTES = 32 * 1024
TX_BASE_GAS = 21_000


SECP256K1_HALF_N = SECPK1_N // 2


def signature_values_error(transaction: SignedTransactionAPI) -> str | None:
    """EIP-2 for every transaction type: 0 < r < n and 0 < s <= n/2.

    py-evm checks the upper bound on s only for legacy transactions; geth and the
    execution specs refuse high-s (malleable) signatures of every type.
    """
    r, s = int(transaction.r), int(transaction.s)
    if not 0 < r < SECPK1_N:
        return "invalid transaction signature: r out of range"
    if not 0 < s <= SECP256K1_HALF_N:
        return "invalid transaction signature: s out of range (EIP-2 requires s <= secp256k1n/2)"
    return None


def data_floor_gas(data: bytes) -> int:
    """EIP-7623: the least gas a transaction with this calldata may be given."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * STANDARD_TOKEN_COST
    return TX_BASE_GAS + TOTAL_COST_FLOOR_PER_TOKEN * tokens


class TakasagoComputation(LeanInterpreterMixin, AnalysedJumpsMixin, PragueComputation):
    """Prague's opcodes and precompiles, run by the leaner interpreter loop with cached jump analysis."""


class TakasagoTransactionExecutor(QuietMessageBuilderMixin, PragueTransactionExecutor):
    """Prague's transaction executor without per-transaction debug formatting."""


class TakasagoState(PragueState):
    computation_class = TakasagoComputation
    transaction_executor_class = TakasagoTransactionExecutor

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        super().validate_transaction(transaction)
        if not hasattr(transaction, "from_"):  # spoofed calls (eth_call) carry no signature
            problem = signature_values_error(transaction)
            if problem is not None:
                raise ValidationError(problem)
        floor = data_floor_gas(bytes(transaction.data))
        if transaction.gas < floor:
            raise ValidationError(
                f"insufficient gas for floor data gas cost: gas {transaction.gas}, minimum needed {floor}"
            )


def _create_zero_fee_header_from_parent(parent_header: BlockHeaderAPI | None, **header_params: Any) -> BlockHeaderAPI:
    header_params.pop("base_fee_per_gas", None)
    header = create_prague_header_from_parent(parent_header, **header_params)
    return header.copy(base_fee_per_gas=0)


class TakasagoVM(OrderedTrieRootsMixin, PragueVM):
    """Prague with a zero base fee, same-second blocks and seals in extraData (one-pass trie roots)."""

    fork = "takasago-prague"
    extra_data_max_bytes = MAX_EXTRA_DATA_BYTES
    _state_class = TakasagoState
    create_header_from_parent = staticmethod(_create_zero_fee_header_from_parent)  # type: ignore[assignment]

    @classmethod
    def validate_gas(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        if header.base_fee_per_gas != 0:
            raise ValidationError(f"base fee must be 0 on this chain, header has {header.base_fee_per_gas}")
        validate_gas_limit(header.gas_limit, parent_header.gas_limit)

    @classmethod
    def validate_header(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        if parent_header is None:
            raise ValidationError("Must have access to parent header to validate current header")
        validate_length_lte(header.extra_data, cls.extra_data_max_bytes, title="BlockHeader.extra_data")
        cls.validate_gas(header, parent_header)
        if header.block_number != parent_header.block_number + 1:
            raise ValidationError(
                f"block #{header.block_number} does not follow its parent #{parent_header.block_number}"
            )
        if header.timestamp < parent_header.timestamp:
            raise ValidationError(
                f"timestamp {header.timestamp} is earlier than the parent's {parent_header.timestamp}"
            )
        if header.difficulty != POST_MERGE_DIFFICULTY:
            raise ValidationError(f"difficulty must be {POST_MERGE_DIFFICULTY}, got {header.difficulty}")
        if header.nonce != POST_MERGE_NONCE:
            raise ValidationError(f"nonce must be {POST_MERGE_NONCE!r}, got {header.nonce!r}")
        if header.uncles_hash != POST_MERGE_OMMERS_HASH:
            raise ValidationError("blocks on this chain have no uncles")

    def process_deposit_request_data(self, block: BlockAPI) -> None:
        block.block_requests.append(DEPOSIT_REQUEST_TYPE)


def chain_class_for(chain_id: int) -> type[Chain]:
    """A py-evm ``Chain`` class bound to ``chain_id`` running :class:`TakasagoVM`.

    Every chain the node builds in-process (the ledger, genesis building; tests and
    benchmarks that construct a ``Ledger``) comes from here, so this is where the node's
    changes to py-evm are checked and installed (``evm_patches.install``, idempotent):
    the node's VM never runs without them, nor with them on a py-evm they do not fit.
    """
    evm_patches.install()
    return type(
        "TakasagoChain",
        (Chain,),
        {"vm_configuration": ((0, TakasagoVM),), "chain_id": chain_id},
    )
