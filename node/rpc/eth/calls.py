"""``eth_*`` that run EVM code without writing: call, estimate, access list and simulation.

Parameters are parsed here; the execution itself is ``node/calls.py``, off the event loop in
the caller's execution lane (``EthAPI.read``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eth.abc import BlockHeaderAPI
from eth_utils import keccak, to_checksum_address

from node import calls as evm
from node.calls import (
    MAX_SIMULATED_BLOCKS,
    MAX_SIMULATED_CALLS,
    CallRequest,
    SimulatedBlock,
    SimulatedResult,
    StateOverrides,
)
from node.errors import LIMIT_EXCEEDED, InvalidParams, RPCError
from node.records import JSON, block_json, hex_bytes, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


def call_request(value: Any) -> CallRequest:
    """A call's transaction object (``from``, ``to``, ``gas``, ``data``/``input``, ...), strictly parsed."""
    if not isinstance(value, dict):
        raise InvalidParams("transaction: expected an object")
    allowed = {
        "from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "data", "input",
        "nonce", "accessList", "type", "chainId",
    }  # fmt: skip
    unknown = set(value) - allowed
    if unknown:
        raise InvalidParams(f"transaction: unknown field(s) {', '.join(sorted(unknown))}")
    data_field = value.get("input", value.get("data"))
    if value.get("input") is not None and value.get("data") is not None and value["input"] != value["data"]:
        raise InvalidParams("transaction: both data and input given and they differ")
    price = value.get("gasPrice", value.get("maxFeePerGas"))
    return CallRequest(
        sender=p.address(value["from"], "transaction.from")
        if value.get("from")
        else p.address("0x" + "00" * 20, "from"),
        to=p.address(value["to"], "transaction.to") if value.get("to") else None,
        gas=p.quantity(value["gas"], "transaction.gas", 2**63 - 1) if value.get("gas") is not None else None,
        gas_price=p.quantity(price, "transaction.gasPrice") if price is not None else 0,
        value=p.quantity(value["value"], "transaction.value") if value.get("value") is not None else 0,
        data=p.data(data_field, "transaction.data") if data_field is not None else b"",
        access_list=_access_list(value.get("accessList")),
    )


def _call_params(api: EthAPI, params: Any) -> tuple[CallRequest, BlockHeaderAPI, StateOverrides | None]:
    """``[transaction, block, stateOverrides]`` of eth_call, eth_estimateGas and eth_createAccessList."""
    tx, block, overrides = p.expect(params, 1, 3)
    return call_request(tx), api.require_header(p.block_ref(block)), p.state_overrides(overrides)


async def call(api: EthAPI, params: Any) -> str:
    request, header, overrides = _call_params(api, params)
    output = await api.read(evm.call, api.ledger.chain, header, request, api.gas_cap, overrides)
    return hex_bytes(output)


async def estimate_gas(api: EthAPI, params: Any) -> str:
    request, header, overrides = _call_params(api, params)
    cap = min(api.gas_cap, header.gas_limit)
    return hex_int(await api.read(evm.estimate_gas, api.ledger.chain, header, request, cap, overrides))


async def create_access_list(api: EthAPI, params: Any) -> JSON:
    """geth's: the EIP-2930 access list the call would use, and its gas with that list."""
    request, header, overrides = _call_params(api, params)
    cap = min(api.gas_cap, header.gas_limit)
    entries, gas_used, error = await api.read(evm.create_access_list, api.ledger.chain, header, request, cap, overrides)
    result: JSON = {
        "accessList": [
            {"address": hex_bytes(address), "storageKeys": [hex_bytes(k.to_bytes(32, "big")) for k in slots]}
            for address, slots in entries
        ],
        "gasUsed": hex_int(gas_used),
    }
    if error is not None:
        result["error"] = error
    return result


async def simulate_v1(api: EthAPI, params: Any) -> list[JSON]:
    """geth's ``eth_simulateV1``, the subset without validation (docs/rpc.md lists what is refused).

    Blocks are simulated on the given block in order, each on the state the previous one
    left; calls in a block see the calls before them. Nothing is written.
    """
    options, block = p.expect(params, 1, 2)
    blocks = _simulation(options, call_request)
    header = api.require_header(p.block_ref(block))
    results = await api.read(evm.simulate, api.ledger.chain, header, blocks, api.gas_cap)
    return [_simulated_block_json(result) for result in results]


def _simulation(options: Any, parse_call: Callable[[Any], CallRequest]) -> list[SimulatedBlock]:
    """The ``eth_simulateV1`` options: ``blockStateCalls`` with the supported overrides."""
    if not isinstance(options, dict):
        raise InvalidParams("simulation options: expected an object with blockStateCalls")
    unknown = set(options) - {"blockStateCalls", "validation", "traceTransfers", "returnFullTransactions"}
    if unknown:
        raise InvalidParams(f"simulation options: unknown field(s) {', '.join(sorted(unknown))}")
    for flag in ("validation", "traceTransfers", "returnFullTransactions"):
        if options.get(flag) is not None and p.boolean(options[flag], flag):
            raise InvalidParams(f"{flag}: true is not supported by this node (docs/rpc.md)")
    entries = options.get("blockStateCalls")
    if not isinstance(entries, list) or not entries:
        raise InvalidParams("blockStateCalls: expected a non-empty array")
    if len(entries) > MAX_SIMULATED_BLOCKS:
        raise RPCError(-38026, f"too many blocks: at most {MAX_SIMULATED_BLOCKS}")
    blocks: list[SimulatedBlock] = []
    total = 0
    for i, entry in enumerate(entries):
        where = f"blockStateCalls[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"blockOverrides", "stateOverrides", "calls"}:
            raise InvalidParams(f"{where}: expected {{blockOverrides, stateOverrides, calls}}")
        calls = entry.get("calls") or []
        if not isinstance(calls, list):
            raise InvalidParams(f"{where}.calls: expected an array")
        total += len(calls)
        if total > MAX_SIMULATED_CALLS:
            raise RPCError(LIMIT_EXCEEDED, f"too many calls: at most {MAX_SIMULATED_CALLS} in one simulation")
        overrides = entry.get("blockOverrides") or {}
        if not isinstance(overrides, dict):
            raise InvalidParams(f"{where}.blockOverrides: expected an object")
        unsupported = set(overrides) - {"number", "time", "gasLimit", "feeRecipient", "baseFeePerGas"}
        if unsupported:
            raise InvalidParams(f"{where}.blockOverrides: unsupported field(s) {', '.join(sorted(unsupported))}")
        if overrides.get("baseFeePerGas") is not None and p.quantity(overrides["baseFeePerGas"], "baseFeePerGas"):
            raise InvalidParams(f"{where}.blockOverrides.baseFeePerGas: the base fee is always 0 on this chain")

        def field(name: str, maximum: int = 2**63 - 1) -> int | None:
            value = overrides.get(name)  # noqa: B023 - used at once, inside this iteration
            return None if value is None else p.quantity(value, f"{where}.blockOverrides.{name}", maximum)  # noqa: B023

        blocks.append(
            SimulatedBlock(
                calls=[parse_call(c) for c in calls],
                overrides=p.state_overrides(entry.get("stateOverrides"), f"{where}.stateOverrides"),
                number=field("number"),
                timestamp=field("time"),
                gas_limit=field("gasLimit"),
                coinbase=p.address(overrides["feeRecipient"], f"{where}.blockOverrides.feeRecipient")
                if overrides.get("feeRecipient") is not None
                else None,
            )
        )
    return blocks


def _simulated_block_json(result: SimulatedResult) -> JSON:
    header = result.header
    encoded = result.block["encoded_transactions"]
    hashes = [keccak(e) for e in encoded]
    rendered = block_json(header, result.block["size"], [hex_bytes(h) for h in hashes])
    calls: list[JSON] = []
    log_index = 0
    for index, outcome in enumerate(result.calls):
        logs = []
        for address, topics, data in outcome["logs"]:
            logs.append(
                {
                    "address": to_checksum_address(address),
                    "topics": [hex_bytes(t.to_bytes(32, "big")) for t in topics],
                    "data": hex_bytes(data),
                    "blockNumber": hex_int(header.block_number),
                    "blockHash": hex_bytes(header.hash),
                    "transactionHash": hex_bytes(hashes[index]),
                    "transactionIndex": hex_int(index),
                    "logIndex": hex_int(log_index),
                    "removed": False,
                }
            )
            log_index += 1
        call_json: JSON = {
            "status": hex_int(outcome["status"]),
            "returnData": hex_bytes(outcome["returnData"]),
            "gasUsed": hex_int(outcome["gasUsed"]),
            "logs": logs,
        }
        if "error" in outcome:
            error = outcome["error"]
            call_json["error"] = {k: v for k, v in error.items() if v is not None}
        calls.append(call_json)
    rendered["calls"] = calls
    return rendered


def _access_list(value: Any) -> tuple[tuple[Any, tuple[int, ...]], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 10_000:
        raise InvalidParams("transaction.accessList: expected an array of {address, storageKeys}")
    entries = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("storageKeys", []), list):
            raise InvalidParams(f"transaction.accessList[{i}]: expected {{address, storageKeys}}")
        address = p.address(item.get("address"), f"transaction.accessList[{i}].address")
        slots = tuple(
            int.from_bytes(p.data(k, f"transaction.accessList[{i}].storageKeys", 32), "big")
            for k in item.get("storageKeys", [])
        )
        entries.append((address, slots))
    return tuple(entries)
