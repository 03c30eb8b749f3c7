"""Read-only execution: eth_call and eth_estimateGas against a block's state."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import rlp as _rlp
from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI
from eth.chains.base import Chain
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_typing import Address
from eth_utils import ValidationError, to_checksum_address

from node.call_deadline import ExecutionTimeout, set_call_deadline
from node.errors import EXECUTION_REVERTED, SERVER_ERROR, RPCError
from node.execution import TX_BASE_GAS, TakasagoVM, data_floor_gas
from node.ordered_trie import ordered_trie_root_and_nodes

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
class AccountOverride:
    """One account of geth's state-override set: replaced for the call only, never written."""

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None  # the whole storage, replaced
    state_diff: dict[int, int] | None = None  # these slots only


StateOverrides = dict[Address, AccountOverride]


def apply_overrides(state: StateAPI, overrides: StateOverrides | None) -> None:
    """Apply geth's state overrides to a call's scratch state (reverted with it)."""
    for address, change in (overrides or {}).items():
        if change.balance is not None:
            state.set_balance(address, change.balance)
        if change.nonce is not None:
            state.set_nonce(address, change.nonce)
        if change.code is not None:
            state.set_code(address, change.code)
        if change.state is not None:
            state.delete_storage(address)
            for slot, value in change.state.items():
                state.set_storage(address, slot, value)
        for slot, value in (change.state_diff or {}).items():
            state.set_storage(address, slot, value)


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


def _execute(
    chain: Chain,
    at: BlockHeaderAPI,
    request: CallRequest,
    gas: int,
    overrides: StateOverrides | None = None,
    inspect: Callable[[StateAPI, ComputationAPI], None] | None = None,
) -> ComputationAPI:
    """Run the call on a scratch copy of ``at``'s state; ``inspect`` sees the state before it is reverted."""
    header = chain.create_header_from_parent(
        at, coinbase=at.coinbase, timestamp=max(int(time.time()), at.timestamp), gas_limit=at.gas_limit
    )
    vm = chain.get_vm(header)
    state = vm.state
    snapshot = state.snapshot()
    try:
        apply_overrides(state, overrides)
        _check_funds(state, request, gas)
        unsigned = _unsigned(request, state.get_nonce(request.sender), gas, chain.chain_id)
        spoofed: Any = SpoofTransaction(unsigned, from_=request.sender)
        computation = state.apply_transaction(spoofed)
        if inspect is not None:
            inspect(state, computation)
        return computation
    except ValidationError as exc:
        raise RPCError(SERVER_ERROR, _validation_message(str(exc))) from None
    finally:
        state.revert(snapshot)


def _check_funds(state: StateAPI, request: CallRequest, gas: int) -> None:
    """geth's buyGas check and wording (py-evm's names the sender as a Python bytes literal)."""
    want = gas * request.gas_price + request.value
    if want:
        have = state.get_balance(request.sender)
        if have < want:
            raise RPCError(
                SERVER_ERROR,
                f"insufficient funds for gas * price + value: address {to_checksum_address(request.sender)} "
                f"have {have} want {want}",
            )


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


def call(
    chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int, overrides: StateOverrides | None = None
) -> bytes:
    gas = min(request.gas, gas_cap) if request.gas is not None else gas_cap
    with _time_budget(CALL_TIMEOUT_SECONDS):
        computation = _execute(chain, at, request, gas, overrides)
    raise_for_computation(computation)
    return bytes(computation.output)


def estimate_gas(
    chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int, overrides: StateOverrides | None = None
) -> int:
    with _time_budget(ESTIMATE_TIMEOUT_SECONDS):
        return _estimate_gas(chain, at, request, gas_cap, overrides)


def _code_at(chain: Chain, at: BlockHeaderAPI, address: Address, overrides: StateOverrides | None) -> bytes:
    change = (overrides or {}).get(address)
    if change is not None and change.code is not None:
        return change.code
    return bytes(chain.get_vm(at).state.get_code(address))


def _estimate_gas(
    chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int, overrides: StateOverrides | None = None
) -> int:
    """The smallest gas limit with which the transaction succeeds (binary search).

    Starts from what a run at the cap used (execution + intrinsic gas) and searches
    up from there, as geth does, to within 1.5% (geth's error ratio). A plain transfer
    to an account without code costs exactly its intrinsic gas; geth answers it without a
    search (a search stopped within 1.5% would answer up to 1.5% more, e.g. 21,165).
    """
    high = min(request.gas, gas_cap) if request.gas is not None else gas_cap
    computation = _execute(chain, at, request, high, overrides)
    raise_for_computation(computation)
    intrinsic = _intrinsic_gas(request)
    if not request.data and request.to is not None and not _code_at(chain, at, request.to, overrides):
        return max(intrinsic, TX_BASE_GAS)
    floor = data_floor_gas(request.data)
    used = max(intrinsic + computation.get_gas_used(), floor)

    def succeeds(gas: int) -> bool:
        try:
            return not _execute(chain, at, request, gas, overrides).is_error
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


def create_access_list(
    chain: Chain, at: BlockHeaderAPI, request: CallRequest, gas_cap: int, overrides: StateOverrides | None = None
) -> tuple[list[tuple[Address, list[int]]], int, str | None]:
    """geth's ``eth_createAccessList``: the accounts and slots the call touches, the gas it then uses, its error.

    Read from the EIP-2929 warm sets after execution rather than from an opcode tracer: the
    same accounts and slots, except that (as geth) the sender, the recipient and the
    precompiles are left out unless a slot of theirs was touched, and so is the block's
    coinbase (warm by EIP-3651). Re-run with the list until it stops changing, as geth does.
    """
    gas = min(request.gas, gas_cap) if request.gas is not None else gas_cap
    excluded = {request.sender, *_PRECOMPILES}
    if request.to is not None:
        excluded.add(request.to)
    current = request.access_list or ()
    with _time_budget(ESTIMATE_TIMEOUT_SECONDS):
        for _attempt in range(8):
            found: dict[Address, set[int]] = {}
            attempt = dataclasses.replace(request, access_list=current)

            computation = _execute(chain, at, attempt, gas, overrides, _collector(found, excluded | {at.coinbase}))
            for address, slots in current:  # an entry given by the caller stays listed, as in geth
                found.setdefault(address, set()).update(slots)
            listed = tuple((address, tuple(sorted(found[address]))) for address in sorted(found))
            if listed == current:
                break
            current = listed
        error = None
        if computation.is_error:
            try:
                raise_for_computation(computation)
            except RPCError as exc:
                error = exc.message
    gas_used = (
        _intrinsic_gas(attempt)
        + computation.get_gas_used()
        - min(computation.get_gas_refund(), (_intrinsic_gas(attempt) + computation.get_gas_used()) // 5)
    )
    return [(address, list(slots)) for address, slots in current], max(gas_used, data_floor_gas(request.data)), error


_PRECOMPILES = frozenset(Address(n.to_bytes(20, "big")) for n in range(1, 0x12))


def _collector(found: dict[Address, set[int]], excluded: set[Address]) -> Callable[[StateAPI, ComputationAPI], None]:
    return lambda state, _computation: found.update(_warm_sets(state, excluded))


def _warm_sets(state: StateAPI, excluded: set[Address]) -> dict[Address, set[int]]:
    """The accounts and storage slots marked warm (EIP-2929) in ``state``'s current transaction."""
    accessed: Any = state._account_db._journal_accessed_state  # type: ignore[attr-defined]  # noqa: SLF001
    found: dict[Address, set[int]] = {}
    for key in accessed.diff().pending_keys():
        address = Address(key[:20])
        if len(key) == 20:
            if address not in excluded:
                found.setdefault(address, set())
        else:
            found.setdefault(address, set()).add(int.from_bytes(key[20:], "big"))
    return found


# -- eth_simulateV1 ----------------------------------------------------------------------------------
MAX_SIMULATED_BLOCKS = 256  # geth's limit
MAX_SIMULATED_CALLS = 1_000
SIMULATED_BLOCK_SECONDS = 12  # geth's default step between simulated blocks' timestamps
SIMULATION_VM_ERROR = -32015  # geth: a call failed in the EVM (other than a revert)


@dataclass(frozen=True)
class SimulatedBlock:
    """One entry of ``blockStateCalls``: optional header fields, state overrides, and the calls."""

    calls: list[CallRequest]
    overrides: StateOverrides | None = None
    number: int | None = None
    timestamp: int | None = None
    gas_limit: int | None = None
    coinbase: Address | None = None


@dataclass
class SimulatedResult:
    """A simulated block's header and body, and what each call did (rendered by the RPC layer)."""

    header: BlockHeaderAPI
    block: Any
    calls: list[dict[str, Any]]


def simulate(chain: Chain, at: BlockHeaderAPI, blocks: list[SimulatedBlock], gas_cap: int) -> list[SimulatedResult]:
    """geth's ``eth_simulateV1`` without validation: calls run in order, each block on the previous one's state.

    One scratch VM state carries through every simulated block (its execution context is
    swapped per block); nothing is ever persisted. Roots and hashes are computed in memory.
    """
    results: list[SimulatedResult] = []
    parent = at
    vm: Any = None
    with _time_budget(ESTIMATE_TIMEOUT_SECONDS):
        for spec in blocks:
            number = parent.block_number + 1
            if spec.number is not None and spec.number != number:  # geth would fill the gap with empty blocks
                raise RPCError(
                    -38020, f"simulated blocks must be consecutive: expected number {number}, got {spec.number}"
                )
            timestamp = spec.timestamp if spec.timestamp is not None else parent.timestamp + SIMULATED_BLOCK_SECONDS
            if timestamp < parent.timestamp:
                raise RPCError(-38021, f"block timestamps must not decrease: {timestamp} after {parent.timestamp}")
            header = chain.create_header_from_parent(
                parent,
                coinbase=spec.coinbase if spec.coinbase is not None else at.coinbase,
                timestamp=timestamp,
                gas_limit=spec.gas_limit if spec.gas_limit is not None else parent.gas_limit,
            )
            if vm is None:
                vm = chain.get_vm(header)
                chain_hashes = vm.state.execution_context.prev_hashes
            else:  # BLOCKHASH sees the simulated blocks first, then the real chain
                vm.state.execution_context = vm.create_execution_context(
                    header, itertools.chain(reversed([r.header.hash for r in results]), chain_hashes), vm.chain_context
                )
            state = vm.state
            state.lock_changes()
            apply_overrides(state, spec.overrides)
            results.append(_simulate_block(vm, header, spec.calls, gas_cap, chain.chain_id))
            parent = results[-1].header
    return results


def _simulate_block(vm: Any, header: BlockHeaderAPI, calls: list[CallRequest], gas_cap: int, chain_id: int) -> Any:
    state = vm.state
    receipts: list[Any] = []
    transactions: list[Any] = []
    outcomes: list[dict[str, Any]] = []
    result_header = header
    for request in calls:
        remaining = result_header.gas_limit - result_header.gas_used
        gas = min(request.gas, gas_cap) if request.gas is not None else min(remaining, gas_cap)
        if gas > remaining:
            raise RPCError(-38015, f"block gas limit reached: call wants {gas}, {remaining} left")
        _check_funds(state, request, gas)
        unsigned = _zero_signature(request, state.get_nonce(request.sender), gas, chain_id)
        sender = request.sender
        spoofed: Any = SpoofTransaction(
            unsigned,
            sender=sender,
            get_sender=lambda s=sender: s,
            validate=_skip,
            check_signature_validity=_skip,
            r=1,  # py-evm checks the signature's range before execution; the encoding keeps zeros
            s=1,
        )
        spoofed.overrides["from_"] = sender  # marks a call: the zero signature is not checked (TakasagoState)
        try:
            receipt, computation = vm.apply_transaction(result_header, spoofed)
        except ValidationError as exc:
            raise RPCError(SERVER_ERROR, _validation_message(str(exc))) from None
        used = receipt.gas_used - result_header.gas_used
        result_header = vm.add_receipt_to_header(result_header, receipt)
        receipts.append(receipt)
        transactions.append(unsigned)
        outcome: dict[str, Any] = {"status": 0 if computation.is_error else 1, "gasUsed": used}
        outcome["returnData"] = bytes(computation.output)
        outcome["logs"] = [(address, topics, bytes(data)) for address, topics, data in receipt.logs]
        if computation.is_error:
            try:
                raise_for_computation(computation)
            except RPCError as exc:
                code = exc.code if exc.code == EXECUTION_REVERTED else SIMULATION_VM_ERROR
                outcome["error"] = {"code": code, "message": exc.message, "data": exc.data}
        outcomes.append(outcome)
    encoded = [tx.encode() for tx in transactions]
    final = result_header.copy(
        state_root=state.make_state_root(),
        transaction_root=ordered_trie_root_and_nodes(encoded)[0],
        receipt_root=ordered_trie_root_and_nodes([r.encode() for r in receipts])[0],
    )
    block = {"encoded_transactions": encoded, "size": len(_rlp.encode(final)) + sum(len(e) for e in encoded)}
    return SimulatedResult(final, block, outcomes)


def _zero_signature(request: CallRequest, nonce: int, gas: int, chain_id: int) -> Any:
    """The call as a transaction with an all-zero signature (as geth's simulated transactions).

    It executes as its ``from`` (spoofed), can make a receipt, and has an encoding to hash.
    """
    builder: Any = TakasagoVM.get_transaction_builder()
    to = request.to if request.to is not None else CREATE_CONTRACT_ADDRESS
    if request.access_list is not None:
        return builder.new_access_list_transaction(
            chain_id, nonce, request.gas_price, gas, to, request.value, request.data, request.access_list, 0, 0, 0
        )
    return builder.new_transaction(nonce, request.gas_price, gas, to, request.value, request.data, 0, 0, 0)


def _skip() -> None:
    """Stands in for a signature check on a simulated call (it has none to check)."""
