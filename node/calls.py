"""Read-only execution: eth_call and eth_estimateGas against a block's state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockHeaderAPI, ComputationAPI
from eth.chains.base import Chain
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_typing import Address
from eth_utils import ValidationError

from node.errors import EXECUTION_REVERTED, SERVER_ERROR, RPCError
from node.evm_speedups import ExecutionTimeout, set_call_deadline
from node.execution import TakasagoVM, data_floor_gas

ERROR_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")
PANIC_REASONS = {
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


@dataclass(frozen=True)
class CallRequest:
    sender: Address
    to: Address | None
    gas: int | None
    gas_price: int
    value: int
    data: bytes
    access_list: tuple[tuple[Address, tuple[int, ...]], ...] | None = None


def revert_message(output: bytes) -> str:
    """geth's wording: "execution reverted" plus the decoded reason when there is one."""
    if output[:4] == ERROR_SELECTOR:
        try:
            (reason,) = abi_decode(["string"], output[4:])
            return f"execution reverted: {reason}"
        except Exception:  # malformed reason data: fall back to the bare message
            pass
    if output[:4] == PANIC_SELECTOR and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        return f"execution reverted: {PANIC_REASONS.get(code, 'panic')} (panic code 0x{code:02x})"
    return "execution reverted"


def raise_for_computation(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    error = computation.error
    if isinstance(error, Revert):
        output = bytes(computation.output)
        raise RPCError(EXECUTION_REVERTED, revert_message(output), "0x" + output.hex())
    raise RPCError(SERVER_ERROR, _vm_error_message(error))


def _vm_error_message(error: Exception) -> str:
    name = type(error).__name__
    return {
        "OutOfGas": "out of gas",
        "InvalidInstruction": "invalid opcode",
        "InvalidJumpDestination": "invalid jump destination",
        "StackUnderflow": "stack underflow",
        "StackDepthLimit": "max call depth exceeded",
        "InsufficientFunds": "insufficient funds for transfer",
        "WriteProtection": "write protection",
        "ContractCreationCollision": "contract address collision",
        "OutOfBoundsRead": "return data out of bounds",
    }.get(name, f"execution failed: {name}")


def _execute(chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas: int) -> ComputationAPI:
    header = chain.create_header_from_parent(
        at, coinbase=at.coinbase, timestamp=max(int(time.time()), at.timestamp), gas_limit=at.gas_limit
    )
    vm = chain.get_vm(header)
    state = vm.state
    unsigned = _unsigned(request, state.get_nonce(request.sender), gas, chain.chain_id)
    spoofed: Any = SpoofTransaction(unsigned, from_=request.sender)
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(spoofed)
    except ValidationError as exc:
        raise RPCError(SERVER_ERROR, _validation_message(str(exc))) from None
    finally:
        state.revert(snapshot)


def _unsigned(request: CallRequest, nonce: int, gas: int, chain_id: int) -> Any:
    """The transaction a call stands for: typed when it carries an access list."""
    builder: Any = TakasagoVM.get_transaction_builder()
    to = request.to if request.to is not None else CREATE_CONTRACT_ADDRESS
    if request.access_list is not None:
        return builder.new_unsigned_access_list_transaction(
            chain_id, nonce, request.gas_price, gas, to, request.value, request.data, request.access_list
        )
    return builder.create_unsigned_transaction(
        nonce=nonce, gas_price=request.gas_price, gas=gas, to=to, value=request.value, data=request.data
    )


def _validation_message(text: str) -> str:
    if "balance" in text.lower() or "funds" in text.lower():
        return f"insufficient funds for gas * price + value ({text})"
    return text


CALL_TIMEOUT_SECONDS = 5.0  # geth's RPCEVMTimeout default
# An estimate runs the transaction several times (usually 2-4 with the optimistic first
# try); a batch that takes 1-2 s per run must still be estimable.
ESTIMATE_TIMEOUT_SECONDS = 15.0
# geth stops the search once the bracket is within 1.5% (estimateGasErrorRatio).
ESTIMATE_ERROR_RATIO = 0.015


@contextmanager
def _time_budget(seconds: float) -> Iterator[None]:
    """Abort a read-only execution that runs too long (it would hold the GIL and stall
    block production); reported as geth does."""
    set_call_deadline(time.monotonic() + seconds)
    try:
        yield
    except ExecutionTimeout:
        raise RPCError(SERVER_ERROR, f"execution aborted (timeout = {seconds:g}s)") from None
    finally:
        set_call_deadline(None)


def call(chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int) -> bytes:
    gas = min(request.gas, gas_cap) if request.gas is not None else gas_cap
    with _time_budget(CALL_TIMEOUT_SECONDS):
        computation = _execute(chain, at, request, gas)
    raise_for_computation(computation)
    return bytes(computation.output)


def estimate_gas(chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int) -> int:
    with _time_budget(ESTIMATE_TIMEOUT_SECONDS):
        return _estimate_gas(chain, at, request, gas_cap)


def _estimate_gas(chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int) -> int:
    """The smallest gas limit with which the transaction succeeds (binary search).

    Starts from what a run at the cap used (execution + intrinsic gas) and searches
    up from there, as geth does, to within 1.5% (geth's error ratio).
    """
    high = min(request.gas, gas_cap) if request.gas is not None else gas_cap
    computation = _execute(chain, at, request, high)
    raise_for_computation(computation)
    intrinsic = _intrinsic_gas(request)
    floor = data_floor_gas(request.data)
    used = max(intrinsic + computation.get_gas_used(), floor)

    def succeeds(gas: int) -> bool:
        try:
            return not _execute(chain, at, request, gas).is_error
        except RPCError:  # e.g. below intrinsic gas
            return False

    low = used - 1
    # Most calls succeed with what they used plus what they were refunded, plus the
    # 1/64 that EIP-150 withholds at each call (geth's optimistic first try): a batch
    # that calls another contract then needs two executions instead of a long search.
    first_try = min(high, (used + computation.get_gas_refund() + 2_300) * 64 // 63)
    if first_try < high and succeeds(first_try):
        high = first_try
    while high - low > max(1, int(high * ESTIMATE_ERROR_RATIO)):
        middle = (low + high) // 2
        if succeeds(middle):
            high = middle
        else:
            low = middle
    return high


def _intrinsic_gas(request: CallRequest) -> int:
    return int(_unsigned(request, 0, 0, 1).intrinsic_gas)
