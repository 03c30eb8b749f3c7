"""The on-chain allowlist, read by the node from the predeployed AccountRegistry.

The node asks the registry contract itself (``isAllowed(address)`` and
``validators()`` executed as read-only EVM calls against a block's state) rather
than decoding its storage, so the contract can grow (issue: point contracts) without
the node changing. Answers are cached per head; a block that emits any event from
the registry clears the cache (every state change of the registry emits one).
"""

from __future__ import annotations

import threading

from eth.abc import BlockHeaderAPI
from eth.chains.base import Chain
from eth_abi import decode as abi_decode
from eth_typing import Address
from eth_utils import keccak

IS_ALLOWED_SELECTOR = keccak(text="isAllowed(address)")[:4]
VALIDATORS_SELECTOR = keccak(text="validators()")[:4]
VIEW_CALL_GAS = 5_000_000


class RegistryUnavailable(Exception):
    """Raised when the registry cannot answer (missing code, reverted call)."""


class Registry:
    """Answers "may this address transact?" and "who are the validators?" at a block."""

    def __init__(self, chain: Chain, address: Address) -> None:
        self._chain = chain
        self.address = address
        self._lock = threading.Lock()
        self._allowed: dict[Address, bool] = {}
        self._validators: tuple[Address, ...] | None = None
        self._cache_head: bytes | None = None

    def _call(self, header: BlockHeaderAPI, data: bytes) -> bytes:
        vm = self._chain.get_vm(header)
        state = vm.state
        code = state.get_code(self.address)
        if not code:
            raise RegistryUnavailable(f"no registry contract at 0x{self.address.hex()}")
        snapshot = state.snapshot()
        try:
            computation = vm.execute_bytecode(
                origin=self.address,
                gas_price=0,
                gas=VIEW_CALL_GAS,
                to=self.address,
                sender=self.address,
                value=0,
                data=data,
                code=code,
                code_address=self.address,
            )
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise RegistryUnavailable(f"registry call failed: {computation.error!r}")
        return bytes(computation.output)

    def _at(self, header: BlockHeaderAPI) -> bool:
        """True when ``header`` is the block the cache describes."""
        return self._cache_head == header.hash

    def on_new_head(self, header: BlockHeaderAPI, registry_touched: bool) -> None:
        """Carry the cache to a new head, or clear it if the registry changed."""
        with self._lock:
            if registry_touched or self._cache_head != header.parent_hash:
                self._allowed = {}
                self._validators = None
            self._cache_head = header.hash

    def is_allowed(self, header: BlockHeaderAPI, address: Address) -> bool:
        cached = self._at(header)
        if cached:
            hit = self._allowed.get(address)
            if hit is not None:
                return hit
        output = self._call(header, IS_ALLOWED_SELECTOR + b"\0" * 12 + address)
        allowed = bool(abi_decode(["bool"], output)[0])
        if cached:
            self._allowed[address] = allowed
        return allowed

    def validators(self, header: BlockHeaderAPI) -> tuple[Address, ...]:
        cached = self._at(header)
        if cached and self._validators is not None:
            return self._validators
        output = self._call(header, VALIDATORS_SELECTOR)
        result = tuple(Address(bytes.fromhex(a[2:])) for a in abi_decode(["address[]"], output)[0])
        if cached:
            self._validators = result
        return result
