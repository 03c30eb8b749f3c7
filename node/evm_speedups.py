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
from collections.abc import Callable, Sequence
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, CodeStreamAPI, ReceiptAPI, SignedTransactionAPI, WithdrawalAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import Halt
from eth.vm import opcode_values
from eth.vm.code_stream import CodeStream
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.logic import arithmetic, comparison, context, duplication, flow, swap
from eth.vm.logic import memory as memory_logic
from eth.vm.logic import stack as stack_logic
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.message import Message
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import DUP1, JUMPDEST, PUSH1, PUSH32, STOP, SWAP1
from eth.vm.stack import to_bytes, to_int
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


_IMMEDIATES_CACHE: dict[bytes, list[int]] = {}
_IMMEDIATES_CACHE_LIMIT = 64  # a list entry per code byte: ~8 bytes x code size each


def push_immediates(code: bytes) -> list[int]:
    """At each PUSHn position, the word it pushes as an int (0 elsewhere), cached per code.

    The word is what ``push_XX`` pushes: the n bytes after the opcode, zero-padded on the
    right where the code ends early.
    """
    cached = _IMMEDIATES_CACHE.get(code)
    if cached is not None:
        return cached
    immediates = [0] * len(code)
    position = 0
    length = len(code)
    while position < length:
        opcode = code[position]
        if PUSH1 <= opcode <= PUSH32:
            size = opcode - PUSH1 + 1
            word = code[position + 1 : position + 1 + size]
            immediates[position] = int.from_bytes(word.ljust(size, b"\x00"), "big")
            position += size + 1
        else:
            position += 1
    if len(_IMMEDIATES_CACHE) >= _IMMEDIATES_CACHE_LIMIT:
        _IMMEDIATES_CACHE.clear()
    _IMMEDIATES_CACHE[code] = immediates
    return immediates


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


# What the loop does itself for an opcode (see ``inline_kinds``); GENERIC runs py-evm's logic function.
GENERIC, PUSH, DUP, SWAP, POP, JUMPDEST_OP, JUMP_OP, JUMPI_OP, PUSH_ZERO, MSTORE_OP, MLOAD_OP, CALLDATALOAD_OP = range(
    12
)
ADD, SUB, MUL, DIV, AND, OR, LT, GT, EQ, SHL, SHR, SLT, SGT, ISZERO, NOT = range(12, 27)
_STACK_LIMIT = 1024
_UINT_256_MAX = 2**256 - 1
_UINT_255_MAX = 2**255 - 1
_UINT_256_CEILING = 2**256


def _expected_logic() -> dict[int, tuple[Callable[..., Any], int]]:
    """opcode -> (the py-evm logic function it must run for the loop to inline it, inline kind)."""
    expected: dict[int, tuple[Callable[..., Any], int]] = {
        opcode_values.PUSH0: (stack_logic.push0, PUSH_ZERO),
        opcode_values.POP: (stack_logic.pop, POP),
        opcode_values.JUMPDEST: (flow.jumpdest, JUMPDEST_OP),
        opcode_values.JUMP: (flow.jump, JUMP_OP),
        opcode_values.JUMPI: (flow.jumpi, JUMPI_OP),
        opcode_values.MSTORE: (memory_logic.mstore, MSTORE_OP),
        opcode_values.MLOAD: (memory_logic.mload, MLOAD_OP),
        opcode_values.CALLDATALOAD: (context.calldataload, CALLDATALOAD_OP),
        opcode_values.SLT: (comparison.slt, SLT),
        opcode_values.SGT: (comparison.sgt, SGT),
        opcode_values.ADD: (arithmetic.add, ADD),
        opcode_values.SUB: (arithmetic.sub, SUB),
        opcode_values.MUL: (arithmetic.mul, MUL),
        opcode_values.DIV: (arithmetic.div, DIV),
        opcode_values.SHL: (arithmetic.shl, SHL),
        opcode_values.SHR: (arithmetic.shr, SHR),
        opcode_values.AND: (comparison.and_op, AND),
        opcode_values.OR: (comparison.or_op, OR),
        opcode_values.LT: (comparison.lt, LT),
        opcode_values.GT: (comparison.gt, GT),
        opcode_values.EQ: (comparison.eq, EQ),
        opcode_values.ISZERO: (comparison.iszero, ISZERO),
        opcode_values.NOT: (comparison.not_op, NOT),
    }
    for n in range(1, 33):
        expected[PUSH1 + n - 1] = (getattr(stack_logic, f"push{n}"), PUSH)
    for n in range(1, 17):
        expected[opcode_values.DUP1 + n - 1] = (getattr(duplication, f"dup{n}"), DUP)
        expected[opcode_values.SWAP1 + n - 1] = (getattr(swap, f"swap{n}"), SWAP)
    return expected


_KINDS_CACHE: dict[int, tuple[dict[int, Any], list[int]]] = {}


def inline_kinds(opcodes: dict[int, Any]) -> list[int]:
    """For each of the 256 opcodes, what the loop runs itself (GENERIC: py-evm's logic function).

    An opcode is inlined only if this VM's table maps it to a ``_FastOpcode`` running exactly
    the py-evm logic function whose effect the loop reproduces (``logic/stack.py``,
    ``duplication.py``, ``swap.py``, ``flow.py``, ``arithmetic.py``, ``comparison.py``), so a
    fork that changes an opcode keeps py-evm's own code for it. Cached per opcode table.
    """
    cached = _KINDS_CACHE.get(id(opcodes))
    if cached is not None and cached[0] is opcodes:
        return cached[1]
    kinds = [GENERIC] * 256
    for opcode, (logic_fn, kind) in _expected_logic().items():
        entry = opcodes.get(opcode)
        if type(entry) is _FastOpcode and entry.logic_fn is logic_fn:
            kinds[opcode] = kind
    _KINDS_CACHE[id(opcodes)] = (opcodes, kinds)
    return kinds


NOT_FAST = -1  # an opcode that is not a plain _FastOpcode (or none at all): called as py-evm calls it
_TABLE_CACHE: dict[int, tuple[dict[int, Any], list[tuple[int, int, Any]]]] = {}


def dispatch_table(opcodes: dict[int, Any]) -> list[tuple[int, int, Any]]:
    """(inline kind, constant gas, opcode object) for each of the 256 opcodes, cached per opcode table.

    NOT_FAST for opcodes that are absent (INVALID) or not ``_FastOpcode`` objects (py-evm's
    ``Opcode`` subclasses such as CALL charge their own gas when called).
    """
    cached = _TABLE_CACHE.get(id(opcodes))
    if cached is not None and cached[0] is opcodes:
        return cached[1]
    kinds = inline_kinds(opcodes)
    table: list[tuple[int, int, Any]] = []
    for opcode in range(256):
        entry = opcodes.get(opcode)
        if type(entry) is _FastOpcode:
            table.append((kinds[opcode], entry.gas_cost, entry))
        else:
            table.append((NOT_FAST, 0, entry))
    _TABLE_CACHE[id(opcodes)] = (opcodes, table)
    return table


class LeanInterpreterMixin:
    """py-evm's interpreter loop with the call layers of the commonest instructions removed.

    Same semantics as ``BaseComputation.apply_computation`` (py-evm 0.12.1b1), minus
    its per-instruction debug logging: instructions are read straight from the code
    bytes instead of through ``CodeStream.__iter__``, and for ordinary opcodes the
    constant gas is charged here (raising the same ``OutOfGas`` through the meter when
    short) before the opcode's logic runs, instead of via ``_FastOpcode.__call__`` →
    ``computation.consume_gas`` → ``GasMeter.consume_gas``. Also honours the
    read-only call deadline (``call_deadline.py``).

    The stack, jump and integer opcodes that make up ~85% of the instructions a Solidity
    contract executes (PUSHn, DUPn, SWAPn, POP, JUMPDEST, JUMP, JUMPI, ADD, SUB, MUL, DIV,
    AND, OR, LT, GT, SLT, SGT, EQ, ISZERO, NOT, SHL, SHR, CALLDATALOAD; MSTORE/MLOAD when
    memory need not grow; :func:`inline_kinds`) run here on the stack's list directly,
    instead of through four to six Python calls each (logic function → computation proxy →
    ``Stack`` method → ``to_int``/validation). They leave the same words on the stack as
    py-evm's code does, always as ints where py-evm sometimes holds bytes (PUSHn, MLOAD,
    CALLDATALOAD): py-evm's stack holds either for one word, and every consumer converts
    with ``to_int``/``to_bytes``, which give the same int and the same padded bytes.
    Whenever an inlined instruction would fail (stack underflow or overflow, a jump to a
    non-JUMPDEST), the loop does nothing itself and calls py-evm's logic function, which
    raises exactly as it does on stock py-evm.
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
            table = dispatch_table(opcode_lookup)
            code = computation.code
            raw = code._raw_code_bytes
            length = len(raw)
            starts = code_start_bitmap(raw)
            immediates = push_immediates(raw)
            memory = computation._memory
            calldata = message.data_as_bytes  # py-evm's calldataload copies it at every instruction
            values = computation._stack.values
            append = values.append
            pop = values.pop
            meter = computation._gas_meter
            deadline = current_call_deadline()
            countdown = CHECK_EVERY_INSTRUCTIONS
            # The program counter and the gas left live in locals while the loop runs its own
            # instructions; they are written back to the code stream and the gas meter before
            # anything else runs (py-evm's logic functions, errors) and read again after it.
            pc = code.program_counter
            gas = meter.gas_remaining
            try:
                while True:
                    if deadline is not None:
                        countdown -= 1
                        if not countdown:
                            countdown = CHECK_EVERY_INSTRUCTIONS
                            if time.monotonic() > deadline:
                                raise ExecutionTimeout()
                    opcode = raw[pc] if pc < length else STOP
                    pc += 1
                    kind, cost, opcode_fn = table[opcode]
                    if kind == NOT_FAST:  # py-evm's Opcode objects charge their own gas
                        code.program_counter = pc
                        meter.gas_remaining = gas
                        if opcode_fn is None:
                            opcode_fn = InvalidOpcode(opcode)
                        opcode_fn(computation=computation)
                        pc = code.program_counter
                        gas = meter.gas_remaining
                        continue
                    if cost > gas:
                        meter.gas_remaining = gas
                        meter.consume_gas(cost, opcode_fn.mnemonic)  # raises OutOfGas
                    gas -= cost
                    depth = len(values)
                    if kind == PUSH:  # stack_logic.push_XX (the word as an int: see the class docstring)
                        if depth < _STACK_LIMIT:
                            append(immediates[pc - 1])
                            pc += opcode - PUSH1 + 1
                            continue
                    elif kind == DUP:  # Stack.dup
                        position = opcode - DUP1 + 1
                        if position <= depth < _STACK_LIMIT:
                            append(values[-position])
                            continue
                    elif kind == SWAP:  # Stack.swap
                        position = opcode - SWAP1 + 2
                        if depth >= position:
                            values[-1], values[-position] = values[-position], values[-1]
                            continue
                    elif kind == JUMPDEST_OP:
                        continue
                    elif kind == POP:
                        if depth:
                            pop()
                            continue
                    elif kind == JUMP_OP:  # flow.jump: only to a JUMPDEST that starts an instruction
                        if depth:
                            target = values[-1]
                            if type(target) is not int:
                                target = to_int(target)
                            if target < length and raw[target] == JUMPDEST and starts[target]:
                                pop()
                                pc = target
                                continue
                    elif kind == JUMPI_OP:  # flow.jumpi
                        if depth >= 2:
                            condition = values[-2]
                            if type(condition) is not int:
                                condition = to_int(condition)
                            if not condition:
                                del values[-2:]
                                continue
                            target = values[-1]
                            if type(target) is not int:
                                target = to_int(target)
                            if target < length and raw[target] == JUMPDEST and starts[target]:
                                del values[-2:]
                                pc = target
                                continue
                    elif kind >= ADD:
                        if kind >= ISZERO:  # one operand
                            if depth:
                                a = values[-1]
                                if type(a) is not int:
                                    a = to_int(a)
                                values[-1] = (1 if a == 0 else 0) if kind == ISZERO else _UINT_256_MAX - a
                                continue
                        elif depth >= 2:  # two operands: a is the top of the stack (py-evm's "left")
                            a = pop()
                            b = values[-1]
                            if type(a) is not int:
                                a = to_int(a)
                            if type(b) is not int:
                                b = to_int(b)
                            if kind == ADD:
                                values[-1] = (a + b) & _UINT_256_MAX
                            elif kind == AND:
                                values[-1] = a & b
                            elif kind == LT:
                                values[-1] = 1 if a < b else 0
                            elif kind == SUB:
                                values[-1] = (a - b) & _UINT_256_MAX
                            elif kind == SHL:
                                values[-1] = 0 if a >= 256 else (b << a) & _UINT_256_MAX
                            elif kind == GT:
                                values[-1] = 1 if a > b else 0
                            elif kind == EQ:
                                values[-1] = 1 if a == b else 0
                            elif kind == MUL:
                                values[-1] = (a * b) & _UINT_256_MAX
                            elif kind == DIV:
                                values[-1] = 0 if b == 0 else (a // b) & _UINT_256_MAX
                            elif kind == OR:
                                values[-1] = a | b
                            elif kind == SLT:  # comparison.slt: both as two's-complement signed words
                                if a > _UINT_255_MAX:
                                    a -= _UINT_256_CEILING
                                if b > _UINT_255_MAX:
                                    b -= _UINT_256_CEILING
                                values[-1] = 1 if a < b else 0
                            elif kind == SGT:  # comparison.sgt
                                if a > _UINT_255_MAX:
                                    a -= _UINT_256_CEILING
                                if b > _UINT_255_MAX:
                                    b -= _UINT_256_CEILING
                                values[-1] = 1 if a > b else 0
                            else:  # SHR
                                values[-1] = 0 if a >= 256 else (b >> a) & _UINT_256_MAX
                            continue
                    elif kind == CALLDATALOAD_OP:  # context.calldataload: 32 bytes, zero-padded past the end
                        if depth:
                            start = values[-1]
                            if type(start) is not int:
                                start = to_int(start)
                            values[-1] = int.from_bytes(calldata[start : start + 32].ljust(32, b"\x00"), "big")
                            continue
                    elif kind == PUSH_ZERO:  # stack_logic.push0
                        if depth < _STACK_LIMIT:
                            append(0)
                            continue
                    elif kind == MSTORE_OP:  # memory_logic.mstore when memory need not grow (no gas)
                        if depth >= 2:
                            start = values[-1]
                            if type(start) is not int:
                                start = to_int(start)
                            buffer = memory._bytes
                            if start + 32 <= len(buffer):
                                word = values[-2]
                                if type(word) is int:
                                    buffer[start : start + 32] = word.to_bytes(32, "big")
                                else:
                                    buffer[start : start + 32] = to_bytes(word).rjust(32, b"\x00")[-32:]
                                del values[-2:]
                                continue
                    elif kind == MLOAD_OP:  # memory_logic.mload when memory need not grow (no gas)
                        if depth:
                            start = values[-1]
                            if type(start) is not int:
                                start = to_int(start)
                            buffer = memory._bytes
                            if start + 32 <= len(buffer):
                                values[-1] = int.from_bytes(buffer[start : start + 32], "big")
                                continue
                    # GENERIC, or an inlined instruction that would fail: py-evm's own logic.
                    code.program_counter = pc
                    meter.gas_remaining = gas
                    opcode_fn.logic_fn(computation)
                    pc = code.program_counter
                    gas = meter.gas_remaining
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
