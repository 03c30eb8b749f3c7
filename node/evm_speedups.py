"""Faster equivalents of py-evm methods, used only by the node's VM classes.

Each piece here computes exactly what the py-evm method it stands in for computes,
with less Python work, and reaches py-evm only through subclassing: ``execution.py``
mixes them into ``TakasagoComputation``, ``TakasagoTransactionExecutor`` and
``TakasagoVM``; py-evm's own classes are left untouched. Each is a copy of a py-evm
0.12.1b1 method (or reproduces its result), so ``evm_patches.py`` lists it with a
fingerprint of the original and ``evm_patches.install()`` refuses to run the node
when py-evm has changed underneath. ``tests/test_evm_equivalence.py`` runs stock
py-evm and the node's VM side by side; ``tests/test_ordered_trie.py`` checks the
jump analysis and trie roots against py-evm's own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, CodeStreamAPI, ReceiptAPI, SignedTransactionAPI, WithdrawalAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import Halt
from eth.vm.code_stream import CodeStream
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.message import Message
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import PUSH1, PUSH32, STOP
from eth_utils import ValidationError

from node.call_deadline import CHECK_EVERY_INSTRUCTIONS, ExecutionTimeout, current_call_deadline
from node.ordered_trie import ordered_trie_root_and_nodes

# -- jump analysis --------------------------------------------------------------
_ANALYSIS_CACHE: dict[bytes, bytes] = {}
_ANALYSIS_CACHE_LIMIT = 512


def code_start_bitmap(code: bytes) -> bytes:
    """b"\\x01" at every position that starts an instruction, b"\\x00" inside PUSH data.

    One forward pass per distinct contract code, cached (geth's "code bitmap"),
    instead of py-evm's backward search over the 32 preceding bytes at every jump.
    """
    cached = _ANALYSIS_CACHE.get(code)
    if cached is not None:
        return cached
    starts = bytearray(len(code))
    position = 0
    length = len(code)
    while position < length:
        starts[position] = 1
        opcode = code[position]
        position += opcode - PUSH1 + 2 if PUSH1 <= opcode <= PUSH32 else 1
    result = bytes(starts)
    if len(_ANALYSIS_CACHE) >= _ANALYSIS_CACHE_LIMIT:
        _ANALYSIS_CACHE.clear()
    _ANALYSIS_CACHE[code] = result
    return result


class AnalysedCodeStream(CodeStream):
    """py-evm's ``CodeStream`` answering JUMP/JUMPI's "is this an instruction start?" from the bitmap."""

    __slots__ = ()

    def is_valid_opcode(self, position: int) -> bool:
        if position >= self._length_cache:
            return False
        return code_start_bitmap(self._raw_code_bytes)[position] == 1


class AnalysedJumpsMixin:
    """A computation whose code is an :class:`AnalysedCodeStream` (py-evm builds a plain ``CodeStream``)."""

    code: CodeStreamAPI

    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)  # type: ignore[call-arg]
        self.code = AnalysedCodeStream(message.code)


# -- interpreter loop ---------------------------------------------------------------
def _NO_PRECOMPILE(computation: Any) -> None:  # sentinel, like py-evm's NO_RESULT
    return None


class LeanInterpreterMixin:
    """py-evm's interpreter loop with two call layers per instruction removed.

    Same semantics as ``BaseComputation.apply_computation`` (py-evm 0.12.1b1), minus
    its per-instruction debug logging: instructions are read straight from the code
    bytes instead of through ``CodeStream.__iter__``, and for ordinary opcodes the
    constant gas is charged here (raising the same ``OutOfGas`` through the meter when
    short) before the opcode's logic runs, instead of via ``_FastOpcode.__call__`` →
    ``computation.consume_gas`` → ``GasMeter.consume_gas``. Also honours the
    read-only call deadline (``call_deadline.py``).
    """

    @classmethod
    def apply_computation(
        cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None
    ) -> Any:
        computation_class: Any = cls
        with computation_class(state, message, transaction_context) as computation:
            if computation.is_origin_computation:
                computation.contracts_created = []
                if message.is_create:
                    cls.consume_initcode_gas_cost(computation)  # type: ignore[attr-defined]
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            if message.is_create:
                computation.contracts_created.append(message.storage_address)
            precompile = computation.precompiles.get(message.code_address, _NO_PRECOMPILE)
            if precompile is not _NO_PRECOMPILE:
                if not message.is_delegation:
                    precompile(computation)
                return computation

            opcode_lookup = computation.opcodes
            code = computation.code
            raw = code._raw_code_bytes
            length = len(raw)
            meter = computation._gas_meter
            fast = _FastOpcode
            deadline = current_call_deadline()
            countdown = CHECK_EVERY_INSTRUCTIONS
            try:
                while True:
                    if deadline is not None:
                        countdown -= 1
                        if not countdown:
                            countdown = CHECK_EVERY_INSTRUCTIONS
                            if time.monotonic() > deadline:
                                raise ExecutionTimeout()
                    pc = code.program_counter
                    if pc < length:
                        opcode = raw[pc]
                        code.program_counter = pc + 1
                    else:
                        opcode = STOP
                        code.program_counter = pc + 1
                    opcode_fn = opcode_lookup.get(opcode)
                    if opcode_fn is None:
                        opcode_fn = InvalidOpcode(opcode)
                    if type(opcode_fn) is fast:
                        cost = opcode_fn.gas_cost
                        if cost > meter.gas_remaining:
                            meter.consume_gas(cost, opcode_fn.mnemonic)  # raises OutOfGas
                        meter.gas_remaining -= cost
                        opcode_fn.logic_fn(computation)
                    else:
                        opcode_fn(computation=computation)
            except Halt:
                pass
        return computation


# -- transaction messages ----------------------------------------------------------------
class QuietMessageBuilderMixin:
    """Cancun/Prague ``build_evm_message`` without its unconditional debug line.

    py-evm formats a debug message for every transaction — ``repr`` of the
    transaction, the hex of the whole contract code and a keccak of the calldata —
    before the logger decides not to print it. Same state changes and message;
    no formatting. (No blob transactions reach this chain, so no blob fee.)
    """

    vm_state: Any

    def build_evm_message(self, transaction: Any) -> Any:
        state = self.vm_state
        sender = transaction.sender
        if transaction.type_id == BLOB_TX_TYPE:
            raise ValidationError("blob transactions are not accepted on this chain")
        state.delta_balance(sender, -1 * (transaction.gas * state.get_gas_price(transaction)))
        state.increment_nonce(sender)
        msg_refund = self.calc_message_refund(transaction)  # type: ignore[attr-defined]
        contract_address: Any
        message_gas = transaction.gas - transaction.intrinsic_gas
        if transaction.to == CREATE_CONTRACT_ADDRESS:
            contract_address = generate_contract_address(sender, state.get_nonce(sender) - 1)
            data = b""
            code = transaction.data
            is_delegation = False
        else:
            contract_address = None
            data = transaction.data
            code, delegation_address = self.get_code_at_address(transaction.to)  # type: ignore[attr-defined]
            is_delegation = delegation_address is not None
        return Message(
            gas=message_gas,
            to=transaction.to,
            sender=sender,
            value=transaction.value,
            data=data,
            code=code,
            create_address=contract_address,
            refund=msg_refund,
            is_delegation=is_delegation,
        )


# -- block assembly ------------------------------------------------------------------------
def ordered_trie_root(items: Sequence[Any]) -> tuple[bytes, dict[bytes, bytes]]:
    """``eth.db.trie.make_trie_root_and_nodes`` by the one-pass builder (same root, same nodes)."""
    return ordered_trie_root_and_nodes([item.encode() for item in items])


class OrderedTrieRootsMixin:
    """``VM.set_block_transactions_and_withdrawals`` with one-pass trie roots.

    py-evm 0.12.1b1's method, line for line, except that the transaction, receipt and
    withdrawal roots come from :func:`ordered_trie_root` (~8x faster than inserting one
    key at a time into a ``HexaryTrie``; byte-identical roots and nodes). This is the
    only place the node's block building computes those roots; ``VM.validate_block``
    (not on the node's path: ``ledger.py`` re-executes a received block and compares
    headers) keeps py-evm's builder.
    """

    chaindb: Any

    def set_block_transactions_and_withdrawals(
        self,
        base_block: BlockAPI,
        new_header: BlockHeaderAPI,
        transactions: Sequence[SignedTransactionAPI],
        receipts: Sequence[ReceiptAPI],
        withdrawals: Sequence[WithdrawalAPI] | None = None,
    ) -> BlockAPI:
        tx_root_hash, tx_kv_nodes = ordered_trie_root(transactions)
        self.chaindb.persist_trie_data_dict(tx_kv_nodes)

        receipt_root_hash, receipt_kv_nodes = ordered_trie_root(receipts)
        self.chaindb.persist_trie_data_dict(receipt_kv_nodes)

        block_fields: dict[str, Any] = {"transactions": transactions}
        block_header_fields = {
            "transaction_root": tx_root_hash,
            "receipt_root": receipt_root_hash,
        }

        if withdrawals:
            withdrawals_root_hash, withdrawal_kv_nodes = ordered_trie_root(withdrawals)
            self.chaindb.persist_trie_data_dict(withdrawal_kv_nodes)

            block_fields["withdrawals"] = withdrawals
            block_header_fields["withdrawals_root"] = withdrawals_root_hash

        block_fields["header"] = new_header.copy(**block_header_fields)

        return base_block.copy(**block_fields)
