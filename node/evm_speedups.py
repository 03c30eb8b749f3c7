"""Hot-path replacements for py-evm internals whose results we reproduce exactly.

Each replacement computes the same thing with less Python work; the differential
test against anvil (tests/test_differential_anvil.py) and the unit tests beside
each guard that they agree with the original.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eth._utils.address import generate_contract_address
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import Halt
from eth.vm.code_stream import CodeStream
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.message import Message
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import PUSH1, PUSH32, STOP
from eth_utils import ValidationError

ORIGINAL_IS_VALID_OPCODE = CodeStream.is_valid_opcode
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


def _is_valid_opcode(self: CodeStream, position: int) -> bool:
    if position >= self._length_cache:
        return False
    return code_start_bitmap(self._raw_code_bytes)[position] == 1


def install() -> None:
    CodeStream.is_valid_opcode = _is_valid_opcode  # type: ignore[method-assign]


class ExecutionTimeout(Exception):
    """A read-only call ran past its wall-clock budget (see :func:`call_deadline`)."""


_deadline = threading.local()
_DEADLINE_CHECK_EVERY = 4096  # instructions between clock reads


def set_call_deadline(deadline: float | None) -> None:
    """Abort EVM execution on this thread after ``deadline`` (time.monotonic()).

    Only eth_call/eth_estimateGas set one (as geth's RPCEVMTimeout); block execution
    never does, so consensus results cannot depend on timing.
    """
    _deadline.value = deadline


class LeanInterpreterMixin:
    """py-evm's interpreter loop with two call layers per instruction removed.

    Same semantics as ``BaseComputation.apply_computation`` (py-evm 0.12.1b1), minus
    its per-instruction debug logging: instructions are read straight from the code
    bytes instead of through a generator, and for ordinary opcodes the constant gas
    is charged here (raising the same ``OutOfGas`` through the meter when short)
    before the opcode's logic runs, instead of via ``Opcode.__call__`` →
    ``computation.consume_gas`` → ``GasMeter.consume_gas``.
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
            deadline = getattr(_deadline, "value", None)
            countdown = _DEADLINE_CHECK_EVERY
            try:
                while True:
                    if deadline is not None:
                        countdown -= 1
                        if not countdown:
                            countdown = _DEADLINE_CHECK_EVERY
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


def _NO_PRECOMPILE(computation: Any) -> None:  # sentinel, like py-evm's NO_RESULT
    return None


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
