"""Genesis configuration: the file that defines a chain, and the state it starts with.

The file (``genesis.json``) follows geth's/Besu's genesis layout so that the same
ledger can later move to an established client; ``config.takasago`` holds what is
ours. See ``docs/genesis.md`` for the full format. Example::

    {
      "config": {
        "chainId": 1337,
        "takasago": {
          "validators": ["0x…"],            # addresses that may seal blocks
          "admins": ["0x…"],                # city admin accounts (registry ADMIN role)
          "registryAddress": "0x…",         # predeployed AccountRegistry
          "blockPeriodSeconds": 1           # interval mode's block period
        }
      },
      "gasLimit": "0x…", "timestamp": "0x…", "extraData": "0x…",
      "alloc": {"0x…": {"code": "0x…", "storage": {"0x…": "0x…"}, "balance": "0x0", "nonce": "0x1"}}
    }

``takasago node init`` writes this file. Predeployed contracts are produced by
running their constructors in a scratch EVM and recording the storage they write,
so the alloc is plain code + storage any client can load.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth.abc import ComputationAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.message import Message
from eth_abi import encode as abi_encode
from eth_typing import Address
from eth_utils import is_hex_address, keccak, to_canonical_address, to_checksum_address

from contracts.predeploys import REGISTRY_ADDRESS
from node.execution import chain_class_for
from node.seal import BFT_MIX_HASH, unsealed_extra_data

DEFAULT_CHAIN_ID = 1337
DEFAULT_GAS_LIMIT = 100_000_000
DEFAULT_BLOCK_PERIOD = 1
# An address no key controls, so only genesis can put code there.
DEFAULT_REGISTRY_ADDRESS = REGISTRY_ADDRESS.lower()
DEFAULT_REGISTRY_IMPLEMENTATION_ADDRESS = "0x0000000000000000000000000000000054a5a601"


class GenesisError(ValueError):
    """The genesis file is malformed; the message says where."""


@dataclass(frozen=True)
class AllocAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    validators: tuple[Address, ...]
    admins: tuple[Address, ...]
    registry_address: Address
    block_period: int
    gas_limit: int
    timestamp: int
    extra_data: bytes
    alloc: dict[Address, AllocAccount]

    def header_params(self, state_root: bytes | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "difficulty": 0,
            "gas_limit": self.gas_limit,
            "timestamp": self.timestamp,
            "extra_data": self.extra_data,
            "mix_hash": BFT_MIX_HASH,
            "nonce": b"\0" * 8,
            "base_fee_per_gas": 0,
        }
        if state_root is not None:
            params["state_root"] = state_root
        return params

    def state_dict(self) -> dict[Address, dict[str, Any]]:
        return {
            address: {"balance": a.balance, "nonce": a.nonce, "code": a.code, "storage": dict(a.storage)}
            for address, a in self.alloc.items()
        }


def _hex_int(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise GenesisError(f"{where}: must not be negative")
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.startswith(("0x", "0X")) else int(value, 10)
        except ValueError:
            pass
    raise GenesisError(f"{where}: expected an integer or a 0x-prefixed hex string, got {value!r}")


def _hex_bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise GenesisError(f"{where}: expected a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise GenesisError(f"{where}: not valid hex") from None


def _address(value: Any, where: str) -> Address:
    if not isinstance(value, str) or not is_hex_address(value):
        raise GenesisError(f"{where}: expected a 20-byte hex address, got {value!r}")
    return Address(to_canonical_address(value))


def _address_list(value: Any, where: str) -> tuple[Address, ...]:
    if not isinstance(value, list):
        raise GenesisError(f"{where}: expected a list of addresses")
    return tuple(_address(v, f"{where}[{i}]") for i, v in enumerate(value))


def parse_genesis(document: Any) -> Genesis:
    """Validate a parsed genesis document; every problem names its JSON path."""
    if not isinstance(document, dict):
        raise GenesisError("genesis: expected a JSON object")
    config = document.get("config")
    if not isinstance(config, dict):
        raise GenesisError("config: missing or not an object")
    ours = config.get("takasago")
    if not isinstance(ours, dict):
        raise GenesisError("config.takasago: missing or not an object")
    chain_id = _hex_int(config.get("chainId"), "config.chainId")
    if not 0 < chain_id < 2**63:
        raise GenesisError("config.chainId: must be between 1 and 2^63-1")
    validators = _address_list(ours.get("validators"), "config.takasago.validators")
    if not validators:
        raise GenesisError("config.takasago.validators: at least one validator is required")
    if len(set(validators)) != len(validators):
        raise GenesisError("config.takasago.validators: duplicate address")
    admins = _address_list(ours.get("admins", []), "config.takasago.admins")
    registry = _address(ours.get("registryAddress"), "config.takasago.registryAddress")
    period = _hex_int(ours.get("blockPeriodSeconds", DEFAULT_BLOCK_PERIOD), "config.takasago.blockPeriodSeconds")
    if not 1 <= period <= 3600:
        raise GenesisError("config.takasago.blockPeriodSeconds: must be between 1 and 3600")
    gas_limit = _hex_int(document.get("gasLimit", DEFAULT_GAS_LIMIT), "gasLimit")
    if not 5000 <= gas_limit <= 2**63 - 1:
        raise GenesisError("gasLimit: must be at least 5000")
    timestamp = _hex_int(document.get("timestamp", 0), "timestamp")
    extra = document.get("extraData")
    extra_data = _hex_bytes(extra, "extraData") if extra is not None else unsealed_extra_data(validators)
    raw_alloc = document.get("alloc", {})
    if not isinstance(raw_alloc, dict):
        raise GenesisError("alloc: expected an object keyed by address")
    alloc: dict[Address, AllocAccount] = {}
    for key, entry in raw_alloc.items():
        where = f"alloc.{key}"
        address = _address(key if key.startswith("0x") else "0x" + key, where)
        if not isinstance(entry, dict):
            raise GenesisError(f"{where}: expected an object")
        storage_raw = entry.get("storage", {})
        if not isinstance(storage_raw, dict):
            raise GenesisError(f"{where}.storage: expected an object")
        storage = {
            _hex_int(k, f"{where}.storage key"): _hex_int(v, f"{where}.storage.{k}") for k, v in storage_raw.items()
        }
        alloc[address] = AllocAccount(
            balance=_hex_int(entry.get("balance", 0), f"{where}.balance"),
            nonce=_hex_int(entry.get("nonce", 0), f"{where}.nonce"),
            code=_hex_bytes(entry["code"], f"{where}.code") if "code" in entry else b"",
            storage=storage,
        )
    if registry not in alloc or not alloc[registry].code:
        raise GenesisError("alloc: the registry address has no code; the allowlist contract must be predeployed")
    return Genesis(chain_id, validators, admins, registry, period, gas_limit, timestamp, extra_data, alloc)


def load_genesis(path: Path) -> Genesis:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenesisError(f"{path}: no such genesis file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenesisError(f"{path}: not valid JSON: {exc}") from None
    return parse_genesis(document)


class _StorageRecorder:
    """Remembers every storage slot a constructor writes (for the genesis alloc)."""

    def __init__(self) -> None:
        self.slots: dict[Address, set[int]] = {}


def _recording_computation(recorder: _StorageRecorder) -> type[PragueComputation]:
    original = PragueComputation.opcodes[0x55]

    def sstore(computation: ComputationAPI) -> None:
        slot = computation._stack.values[-1]  # type: ignore[attr-defined]
        slot_int = slot if isinstance(slot, int) else int.from_bytes(slot, "big")
        recorder.slots.setdefault(computation.msg.storage_address, set()).add(slot_int)
        original(computation=computation)

    sstore.mnemonic = "SSTORE"  # type: ignore[attr-defined]
    return type("RecordingComputation", (PragueComputation,), {"opcodes": {**PragueComputation.opcodes, 0x55: sstore}})


@dataclass(frozen=True)
class Predeploy:
    """A contract to create at genesis: creation code plus ABI-encoded constructor arguments."""

    address: Address
    creation_code: bytes
    constructor_args: bytes = b""


def predeploy(contracts: list[Predeploy], chain_id: int) -> dict[Address, AllocAccount]:
    """Run the constructors in order, in one scratch EVM, and return each contract's code and storage.

    Later constructors see the earlier contracts (a proxy's constructor calls its
    implementation); storage written through DELEGATECALL is recorded for the
    account it belongs to.
    """
    recorder = _StorageRecorder()
    chain_cls = chain_class_for(chain_id)
    placeholder = contracts[0].address if contracts else Address(b"\0" * 20)
    scratch_genesis = Genesis(chain_id, (), (), placeholder, 1, DEFAULT_GAS_LIMIT, 0, unsealed_extra_data(()), {})
    chain = chain_cls.from_genesis(AtomicDB(), scratch_genesis.header_params())
    vm = chain.get_vm()
    state = vm.state
    state_cls = type(state)
    state.computation_class = _recording_computation(recorder)  # type: ignore[misc]
    tx_context = state_cls.get_transaction_context_class()(gas_price=0, origin=Address(b"\0" * 20))
    for contract in contracts:
        message = Message(
            gas=DEFAULT_GAS_LIMIT,
            to=CREATE_CONTRACT_ADDRESS,
            sender=Address(b"\0" * 20),
            value=0,
            data=b"",
            code=contract.creation_code + contract.constructor_args,
            create_address=contract.address,
        )
        computation = state.computation_class.apply_create_message(state, message, tx_context)
        if computation.is_error:
            raise GenesisError(
                f"constructor of the predeployed contract at 0x{contract.address.hex()} failed: {computation.error!r}"
            )
    allocs: dict[Address, AllocAccount] = {}
    for contract in contracts:
        address = contract.address
        storage = {}
        for slot in sorted(recorder.slots.get(address, set())):
            value = state.get_storage(address, slot)
            if value:
                storage[slot] = value
        allocs[address] = AllocAccount(
            balance=0, nonce=state.get_nonce(address), code=state.get_code(address), storage=storage
        )
    return allocs


def build_genesis_document(
    *,
    chain_id: int,
    validators: list[str],
    admins: list[str],
    registry_creation_code: bytes,
    proxy_creation_code: bytes,
    registry_address: str = DEFAULT_REGISTRY_ADDRESS,
    registry_implementation_address: str = DEFAULT_REGISTRY_IMPLEMENTATION_ADDRESS,
    extra_accounts: list[str] | None = None,
    gas_limit: int = DEFAULT_GAS_LIMIT,
    block_period: int = DEFAULT_BLOCK_PERIOD,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """The genesis document for a new chain with the registry predeployed.

    The registry is a UUPS proxy at ``registry_address`` (the address the node asks)
    in front of an implementation at ``registry_implementation_address``, initialized
    as the proxy's constructor does it. ``admins[0]`` receives the registry's admin
    role; further admins and ``extra_accounts`` are registered as active city accounts.
    """
    if not admins:
        raise GenesisError("at least one admin account is required")
    registry = Address(to_canonical_address(registry_address))
    implementation = Address(to_canonical_address(registry_implementation_address))
    initialize = keccak(text="initialize(address,address[],address[])")[:4] + abi_encode(
        ["address", "address[]", "address[]"], [admins[0], admins[1:] + (extra_accounts or []), validators]
    )
    allocs = predeploy(
        [
            Predeploy(implementation, registry_creation_code),
            Predeploy(registry, proxy_creation_code, abi_encode(["address", "bytes"], [implementation, initialize])),
        ],
        chain_id,
    )
    canonical_validators = tuple(Address(to_canonical_address(v)) for v in validators)
    return {
        "config": {
            "chainId": chain_id,
            "pragueTime": 0,
            "zeroBaseFee": True,
            "takasago": {
                "validators": [to_checksum_address(v) for v in validators],
                "admins": [to_checksum_address(a) for a in admins],
                "registryAddress": to_checksum_address(registry),
                "blockPeriodSeconds": block_period,
            },
        },
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) if timestamp is None else timestamp),
        "gasLimit": hex(gas_limit),
        "difficulty": "0x0",
        "baseFeePerGas": "0x0",
        "mixHash": "0x" + BFT_MIX_HASH.hex(),
        "coinbase": "0x" + "00" * 20,
        "extraData": "0x" + unsealed_extra_data(canonical_validators).hex(),
        "alloc": {
            to_checksum_address(address): {
                "balance": "0x0",
                "nonce": hex(alloc.nonce),
                "code": "0x" + alloc.code.hex(),
                "storage": {hex(k): hex(v) for k, v in alloc.storage.items()},
            }
            for address, alloc in allocs.items()
        },
    }
